package backfill

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// The error of a corrupt state file keeps its cause in the chain, so a
// caller can tell a syntax error from an I/O error.
func TestLoadStateKeepsTheCause(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.json")
	if err := os.WriteFile(path, []byte(`{"version": 1, "tables": {`), 0o600); err != nil {
		t.Fatal(err)
	}
	_, _, err := LoadState(path)
	var se *json.SyntaxError
	var ue *json.UnmarshalTypeError
	if err == nil || !(errors.As(err, &se) || errors.As(err, &ue)) {
		t.Fatalf("LoadState(corrupt) = %v: the JSON error is not in the chain", err)
	}
}
