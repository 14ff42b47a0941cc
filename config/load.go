package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	_ "time/tzdata" // mapping zones must load in containers without /usr/share/zoneinfo

	"gopkg.in/yaml.v3"
)

// Load reads the configuration file at path and returns it decoded, with
// environment variables expanded, defaults applied and every rule checked.
// It makes no network connection. On failure the error is an *Error listing
// every problem as "file:line: field.path: message" (or, when the file
// cannot be read at all, a plain error naming it).
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, readError(path, err)
	}
	return Parse(data, path)
}

// Parse is Load for data already in memory. name is used in messages and to
// resolve iotdb.mappings_dir (relative to filepath.Dir(name)), which is read
// from disk.
//
// Order: parse YAML into nodes; decode strictly, expanding ${VAR},
// ${VAR:-default} and $$ in scalar values (not in keys, not in comments, not
// in mapping device templates, whose ${...} name columns); merge
// mappings_dir; apply defaults; validate.
func Parse(data []byte, name string) (*Config, error) {
	return parse(data, name, os.LookupEnv)
}

// LoadForDiscovery is Load for cmd/discover, which writes the mappings: a
// file with no mapping yet (and mysql.tables entries not mapped yet) loads;
// every other rule is checked as Load checks it.
func LoadForDiscovery(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, readError(path, err)
	}
	return parseWith(data, path, os.LookupEnv, true)
}

func parse(data []byte, name string, lookup func(string) (string, bool)) (*Config, error) {
	return parseWith(data, name, lookup, false)
}

// parseWith is parse; noMappings allows a configuration without mappings.
func parseWith(data []byte, name string, lookup func(string) (string, bool), noMappings bool) (*Config, error) {
	ps := &problems{}
	ps.fileRank(name)
	d := &decoder{file: name, ps: ps, seen: map[string]Pos{}, bad: map[string]bool{}, lookup: lookup, noMappings: noMappings}
	root := d.parseDocument(data)
	if root == nil {
		return nil, ps.err()
	}
	if root.Kind != yaml.MappingNode {
		d.problem(root.Line, "", "expected a map with keys mysql, iotdb, ...; got %s", kindName(root))
		return nil, ps.err()
	}
	cfg := &Config{Path: name}
	d.decode(root, reflect.ValueOf(cfg).Elem(), "", true)
	complete := d.loadMappingsDir(cfg, name)
	readSecrets(cfg, d)
	applyDefaults(cfg, d)
	// Without mappings (discovery), "at least one mapping" and "a table
	// without a mapping" are not problems yet.
	validate(cfg, d, complete && !noMappings)
	if err := ps.err(); err != nil {
		return nil, err
	}
	cfg.fields = d.seen
	return cfg, nil
}

func readError(path string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return fmt.Errorf("%s: cannot read: %w", path, err)
}

// loadMappingsDir appends one Mapping per *.yaml / *.yml file of
// iotdb.mappings_dir, in file-name order. Hidden files and sub-folders are
// skipped. It returns false when some file could not be decoded, so that
// validation does not also report its table as unmapped.
func (d *decoder) loadMappingsDir(cfg *Config, name string) bool {
	if cfg.IoTDB.MappingsDir == "" {
		return true
	}
	const path = "iotdb.mappings_dir"
	at := d.seen[path]
	dir := cfg.IoTDB.MappingsDir
	if !filepath.IsAbs(dir) {
		dir = filepath.Join(filepath.Dir(name), dir)
	}
	entries, err := os.ReadDir(dir)
	if err != nil && d.noMappings && errors.Is(err, fs.ErrNotExist) {
		return true // discovery creates it
	}
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		d.ps.addf(at, path, "cannot read folder %s: %v", dir, err)
		return false
	}
	complete := true
	mainFile := d.file
	defer func() { d.file = mainFile }()
	for _, e := range entries {
		ext := strings.ToLower(filepath.Ext(e.Name()))
		if e.IsDir() || strings.HasPrefix(e.Name(), ".") || (ext != ".yaml" && ext != ".yml") {
			continue
		}
		file := filepath.Join(dir, e.Name())
		d.ps.fileRank(file)
		d.file = file
		data, err := os.ReadFile(file)
		if err != nil {
			var pe *fs.PathError
			if errors.As(err, &pe) {
				err = pe.Err
			}
			d.problem(0, "", "cannot read: %v", err)
			complete = false
			continue
		}
		root := d.parseDocument(data)
		if root == nil {
			complete = false
			continue
		}
		var m Mapping
		mp := fmt.Sprintf("iotdb.mappings[%d]", len(cfg.IoTDB.Mappings))
		d.decode(root, reflect.ValueOf(&m).Elem(), mp, true)
		if root.Kind != yaml.MappingNode {
			complete = false
			continue
		}
		cfg.IoTDB.Mappings = append(cfg.IoTDB.Mappings, m)
	}
	return complete
}
