package model

import (
	"fmt"
	"os"
	"path/filepath"
)

// CacheDir is where downloaded models live: $ATELIER_MODELS when set,
// otherwise os.UserCacheDir()/atelier/models. The folder may not exist yet.
func CacheDir() (string, error) {
	if d := os.Getenv("ATELIER_MODELS"); d != "" {
		return filepath.Abs(d)
	}
	base, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("model: no cache folder (set ATELIER_MODELS): %w", err)
	}
	return filepath.Join(base, "atelier", "models"), nil
}

// SharedDir is the read-only reference folder used in development:
// $ATELIER_SHARED when set, otherwise "../shared" beside the repository
// root found by walking up from the working directory to go.mod. It wraps
// ErrNotPresent when there is none (installed copies have none).
func SharedDir() (string, error) {
	if d := os.Getenv("ATELIER_SHARED"); d != "" {
		return filepath.Abs(d)
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("model: %w", err)
	}
	for dir := wd; ; {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			shared := filepath.Join(filepath.Dir(dir), "shared")
			if st, err := os.Stat(shared); err == nil && st.IsDir() {
				return shared, nil
			}
			return "", fmt.Errorf("model: no shared folder at %s (set ATELIER_SHARED): %w", shared, ErrNotPresent)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("model: no go.mod above %s, so no shared folder (set ATELIER_SHARED): %w", wd, ErrNotPresent)
		}
		dir = parent
	}
}
