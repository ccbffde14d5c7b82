package weights

import "embed"

// SR holds the super-resolution networks the project trained itself
// (engine/sr/train), one TF.js layers model per folder ("srcnn-x3"); see
// README.md for how each was made. They are small enough to ship in the
// binary.
//
//go:embed sr
var SR embed.FS
