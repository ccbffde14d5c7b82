// Package style is Gatys-style neural style transfer (Gatys, Ecker and
// Bethge 2016): an image is optimised so that its features in a network
// (features.Extractor) match the content image's features at one tap and
// the style images' Gram matrices at several taps.
//
// The pieces, each usable alone:
//
//   - Losses with analytic gradients: ContentLoss (mean squared error on a
//     tap), StyleLayer (mean squared error between Gram matrices normalised
//     by 1/(C·H·W), see Gram), TVLoss (squared total variation of the
//     image).
//   - Style targets: several style images mixed by weight (the target is
//     the weighted blend of their Gram matrices), morphing between two such
//     mixes, style images sized relative to the output (Request.StyleScale);
//     Gram matrices are computed once per style and scale and cached, and
//     blended again only when the mix changes.
//   - Colour: ColourLuminance keeps the content's colours by recombining the
//     result's luminance with the content's chroma after the optimisation
//     (PreserveColour); ColourMatch maps each style image's colour mean and
//     covariance onto the content's before its Gram matrices are taken
//     (MatchColour). Both follow Gatys et al., "Preserving Color in Neural
//     Artistic Style Transfer" (2016).
//   - Run: coarse-to-fine optimisation with L-BFGS (strong-Wolfe line
//     search, default) or Adam, the image kept in 0..255 by projection at
//     every step, live steering through Request.Updates, cancellation, and a
//     frame after every iteration (its image copied only when the callback
//     asks, see Frame.Image). Request.Iterations is the budget of the whole
//     run, split over the scales by SplitIterations. Evaluate gives the
//     objective and its gradient at one image, for checks and benchmarks.
//
// Loss balance. The default content and style weights (5 and 100) are
// neural-style's for Caffe VGG19 features of 0..255 images, with which this
// package's losses agree (mean squared errors, Gram matrices divided by
// C·H·W); the total-variation weight (10, on a mean over pixel values)
// keeps that term a few percent of the total. Networks with other feature
// scales use relative losses (NormTarget, automatic for ResNet-50), each
// term divided by its target's magnitude, with DefaultRelativeSettings.
//
// Optimisation notes. Every L-BFGS reset (a new scale, or settings that
// change the objective) starts with an evaluation that sizes the first
// step from the gradient (FirstStepPixels gray levels for the steepest
// pixel) and that the step then reuses (nn.LBFGS.Prime):
// nn.LBFGS's own first step, min(1, 1/|g|₁), is orders of magnitude too
// short here and cost the line search 6 to 10 evaluations to grow. At each
// new scale the loss first jumps up (the upsampled image lacks the fine
// texture the style Gram matrices ask for) and then falls again within a
// few iterations.
package style
