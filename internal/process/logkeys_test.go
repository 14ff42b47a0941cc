package process

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// pendingDurKeys are duration keys written before the rule, in code being
// changed by others at the time; rename them (key_s) and remove them here.
var pendingDurKeys = map[string]bool{}

// TestDurationKeysSaySeconds: the loggers write durations as seconds
// (NewLogger), so every .Dur("key", ...) of the module's code has a key
// ending in _s: a reader of "backoff": 0.1 cannot know the unit, one of
// "backoff_s": 0.1 can.
func TestDurationKeysSaySeconds(t *testing.T) {
	root := filepath.Join("..", "..")
	fset := token.NewFileSet()
	checked := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata") && path != root {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return nil // a file being edited right now; the build reports it
		}
		rel, _ := filepath.Rel(root, path)
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok || len(call.Args) != 2 {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok || sel.Sel.Name != "Dur" {
				return true
			}
			lit, ok := call.Args[0].(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return true
			}
			key, _ := strconv.Unquote(lit.Value)
			checked++
			if !strings.HasSuffix(key, "_s") && !pendingDurKeys[filepath.ToSlash(rel)+":"+key] {
				t.Errorf("%s: duration logged as %q: name its unit (%s_s)", fset.Position(lit.Pos()), key, key)
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 10 {
		t.Fatalf("only %d .Dur calls found: is the walk looking at the module?", checked)
	}
}
