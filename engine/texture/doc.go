// Package texture synthesises textures from an example image (the sample):
// new images of any size that look like more of the same material, optionally
// tileable (they wrap around seamlessly).
//
// Two methods, chosen by Request.Method:
//
//   - Gram (Gatys, Ecker and Bethge, "Texture Synthesis Using Convolutional
//     Neural Networks", 2015): an image starts as seeded noise and is
//     optimised with L-BFGS, kept in 0..255 at every step, until the Gram
//     matrices of its features in a feature network (features.Extractor,
//     VGG19 with average pooling preferred) match the sample's at several
//     taps. Tileable runs see the image as a torus through Padded
//     (NewCircular), so every convolution and pooling wraps around. Optionally coarse to fine.
//   - Patch (non-neural): texture optimisation in the manner of Kwatra,
//     Essa, Bobick and Kwatra ("Texture Optimization for Example-based
//     Synthesis", 2005) over a multi-resolution pyramid. Every k x k patch of
//     the output is matched to its nearest sample patch with PatchMatch
//     (Barnes et al. 2009: propagation and random search), and the output
//     becomes the robust average of the matched patches; the matches of one
//     level seed the next, finer one. Tileable runs use toroidal
//     neighbourhoods. It needs no network and takes seconds.
//
// Both are seeded (Request.Seed): the same request and seed give the same
// bytes on the same machine. Both report a Frame after every iteration and
// stop at the next iteration boundary (or sooner) when the context is
// cancelled.
package texture
