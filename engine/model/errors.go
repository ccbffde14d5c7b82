package model

import "errors"

// Sentinel errors; wrapped errors carry the file and the detail.
var (
	// ErrFormat reports a malformed or inconsistent model file.
	ErrFormat = errors.New("model: malformed model file")
	// ErrUnsupported reports a valid construct this package does not handle
	// (a dtype, a quantisation, a tensor encoding).
	ErrUnsupported = errors.New("model: unsupported")
	// ErrNoWeight reports a weight name the model does not list.
	ErrNoWeight = errors.New("model: no such weight")
	// ErrUnavailable reports a listed weight whose data file is missing or
	// does not hold the bytes its manifest promises.
	ErrUnavailable = errors.New("model: weight data unavailable")
	// ErrUnknownModel reports a name the registry does not list.
	ErrUnknownModel = errors.New("model: unknown model")
	// ErrHashMismatch reports a file whose SHA-256 differs from the manifest.
	ErrHashMismatch = errors.New("model: SHA-256 mismatch")
	// ErrSizeMismatch reports a file whose size differs from the manifest.
	ErrSizeMismatch = errors.New("model: size mismatch")
	// ErrNotPresent reports a model whose files are not (all) on disk.
	ErrNotPresent = errors.New("model: model not present")
)
