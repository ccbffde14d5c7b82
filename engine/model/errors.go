package model

import "errors"

// Sentinel errors. They are always returned wrapped, in messages that start
// with "model: " and name the file, so their own text has no prefix.
var (
	// ErrFormat reports a malformed or inconsistent model file.
	ErrFormat = errors.New("malformed model file")
	// ErrUnsupported reports a valid construct this package does not handle
	// (a dtype, a quantisation, a tensor encoding).
	ErrUnsupported = errors.New("unsupported")
	// ErrNoWeight reports a weight name the model does not list.
	ErrNoWeight = errors.New("no such weight")
	// ErrUnavailable reports a listed weight whose data file is missing or
	// does not hold the bytes its manifest promises.
	ErrUnavailable = errors.New("weight data unavailable")
	// ErrUnknownModel reports a name the registry does not list.
	ErrUnknownModel = errors.New("unknown model")
	// ErrHashMismatch reports a file whose SHA-256 differs from the manifest.
	ErrHashMismatch = errors.New("SHA-256 mismatch")
	// ErrSizeMismatch reports a file whose size differs from the manifest.
	ErrSizeMismatch = errors.New("size mismatch")
	// ErrNotPresent reports a model whose files are not (all) on disk.
	ErrNotPresent = errors.New("model not present")
)
