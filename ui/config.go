package ui

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// ConfigDirEnv names the environment variable that, when set, replaces the
// folder where the studio keeps its settings (tests and the smoke test use
// it to leave the person's own settings alone).
const ConfigDirEnv = "ATELIER_CONFIG_DIR"

// configDir returns the folder where the studio keeps its settings:
// $ATELIER_CONFIG_DIR when set, else "atelier" in the user's configuration
// folder (~/.config/atelier on Linux). It does not create it.
func configDir() (string, error) {
	if d := os.Getenv(ConfigDirEnv); d != "" {
		return d, nil
	}
	d, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("ui: no folder for settings: %w", err)
	}
	return filepath.Join(d, "atelier"), nil
}

// loadConfigJSON decodes the settings file name (in configDir) into v. A
// missing file returns an error matching fs.ErrNotExist and leaves v alone.
func loadConfigJSON(name string, v any) error {
	dir, err := configDir()
	if err != nil {
		return err
	}
	data, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		return fmt.Errorf("ui: reading %s: %w", name, err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("ui: reading %s: %w", name, err)
	}
	return nil
}

// saveConfigJSON writes v as the settings file name in configDir, creating
// the folder when needed. It writes a temporary file and renames it over
// the old one, so a crash never leaves half a file.
func saveConfigJSON(name string, v any) (err error) {
	dir, err := configDir()
	if err != nil {
		return err
	}
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("ui: writing %s: %w", name, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("ui: writing %s: %w", name, err)
	}
	f, err := os.CreateTemp(dir, "."+name+".*.tmp")
	if err != nil {
		return fmt.Errorf("ui: writing %s: %w", name, err)
	}
	defer func() {
		if err != nil {
			_ = os.Remove(f.Name())
		}
	}()
	_, werr := f.Write(append(data, '\n'))
	cerr := f.Close()
	if err := errors.Join(werr, cerr); err != nil {
		return fmt.Errorf("ui: writing %s: %w", name, err)
	}
	if err := os.Rename(f.Name(), filepath.Join(dir, name)); err != nil {
		return fmt.Errorf("ui: writing %s: %w", name, err)
	}
	return nil
}
