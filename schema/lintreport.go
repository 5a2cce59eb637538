package schema

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/ctao/dpps-deploy/internal/junit"
)

// LintFormats are the output formats of WriteLint.
var LintFormats = []string{"text", "json", "junit"}

// WriteLint writes lint problems in a format: "text" (one
// "file:line:col: /pointer: message" line each, nothing when valid),
// "json" (an object with valid, chart, files and problems) or "junit"
// (JUnit XML as GitLab CI reads it: a test case per problem, or one passing
// case per file when the values are valid).
func WriteLint(w io.Writer, format, chart string, files []string, problems []Problem) error {
	switch format {
	case "text":
		for _, p := range problems {
			if _, err := fmt.Fprintln(w, p.String()); err != nil {
				return err
			}
		}
		return nil
	case "json":
		if problems == nil {
			problems = []Problem{}
		}
		if files == nil {
			files = []string{}
		}
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		return enc.Encode(struct {
			Valid    bool      `json:"valid"`
			Chart    string    `json:"chart"`
			Files    []string  `json:"files"`
			Problems []Problem `json:"problems"`
		}{len(problems) == 0, chart, files, problems})
	case "junit":
		return writeJUnit(w, chart, files, problems)
	}
	return fmt.Errorf("unknown output format %q; valid formats: text, json, junit", format)
}

func writeJUnit(w io.Writer, chart string, files []string, problems []Problem) error {
	var cases []junit.Case
	if len(problems) == 0 {
		for _, f := range files {
			cases = append(cases, junit.Case{Name: f + ": values valid", Classname: "values." + f, File: f})
		}
	}
	for _, p := range problems {
		ptr := p.Pointer
		if ptr == "" {
			ptr = "/"
		}
		cases = append(cases, junit.Case{
			Name:      fmt.Sprintf("%s:%d:%d %s", p.File, p.Line, p.Column, ptr),
			Classname: "values." + p.File,
			File:      p.File,
			Failure:   &junit.Failure{Message: ptr + ": " + p.Message, Type: keywordOr(p.Keyword), Text: p.String()},
		})
	}
	return junit.Write(w, "dpps-schemagen lint", "dpps-schemagen lint "+chart, cases)
}

func keywordOr(k string) string {
	if k == "" {
		return "yaml"
	}
	return k
}
