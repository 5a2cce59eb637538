// Package godoc reads Go doc comments for invopop/jsonschema, which turns
// them into schema descriptions.
package godoc

import (
	"fmt"
	"path"
	"path/filepath"
	"strings"

	invopop "github.com/invopop/jsonschema"
)

// Comments reads the doc comments of the Go package in dir, whose import
// path is pkg, and of the packages below it, into the map invopop's Reflector.CommentMap expects. Unlike
// Reflector.AddGoComments it works for any dir, relative ("../../catalog")
// or absolute.
func Comments(pkg, dir string) (map[string]string, error) {
	var r invopop.Reflector
	if err := r.AddGoComments("", dir); err != nil {
		return nil, fmt.Errorf("reading Go comments of %s: %w", dir, err)
	}
	d := path.Clean(filepath.ToSlash(dir))
	out := make(map[string]string, len(r.CommentMap))
	for k, v := range r.CommentMap {
		// Keys are "<dir>.<Type>[.<Field>]", subpackages "<dir>/<sub>.<Type>".
		if rest, ok := strings.CutPrefix(k, d); ok && (strings.HasPrefix(rest, ".") || strings.HasPrefix(rest, "/")) {
			out[pkg+rest] = v
		}
	}
	return out, nil
}
