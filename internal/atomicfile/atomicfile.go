// Package atomicfile replaces a file so that a crash at any moment leaves
// either the old content or the new, never a torn file: the backfill state
// and the cdc checkpoint are both saved this way.
package atomicfile

import (
	"fmt"
	"os"
	"path/filepath"
)

// TempPrefix is the name prefix of the temporary files Write creates beside
// path; readers ignore such files, and an interrupted Write may leave one.
func TempPrefix(path string) string { return filepath.Base(path) + ".tmp-" }

// Write writes data to a temporary file in path's directory, fsyncs it,
// renames it over path and fsyncs the directory, so the rename itself is
// durable. Errors name path and the step that failed.
func Write(path string, data []byte) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, TempPrefix(path)+"*")
	if err != nil {
		return fmt.Errorf("saving %s: %w", path, err)
	}
	tmp := f.Name()
	renamed := false
	defer func() {
		if !renamed {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if _, err := f.Write(data); err != nil {
		return fmt.Errorf("saving %s: writing %s: %w", path, tmp, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("saving %s: fsync %s: %w", path, tmp, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("saving %s: closing %s: %w", path, tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("saving %s: %w", path, err)
	}
	renamed = true
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("saving %s: fsync directory: %w", path, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("saving %s: fsync directory: %w", path, err)
	}
	return nil
}
