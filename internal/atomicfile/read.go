package atomicfile

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// ReadJSON reads a JSON state file written with Write whose top-level
// object carries a "version" field. found is false, with no error, when the
// file does not exist. Otherwise the file must be exactly one JSON object
// with version == version and no fields v does not know: anything else is
// an error (without the path: callers name the file and say what to do),
// never a silent fresh start. Temporary files an interrupted Write left are
// not looked at.
func ReadJSON(path string, version int, v any) (found bool, err error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return true, errors.New("the file is empty")
	}
	var head struct {
		Version *int `json:"version"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return true, fmt.Errorf("corrupt JSON: %w", err)
	}
	if head.Version == nil {
		return true, errors.New("no version field")
	}
	if *head.Version != version {
		return true, fmt.Errorf("format version %d, this build reads version %d", *head.Version, version)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return true, fmt.Errorf("corrupt: %w", err)
	}
	if dec.More() {
		return true, errors.New("corrupt: trailing data after the JSON object")
	}
	return true, nil
}
