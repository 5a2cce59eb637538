package schema

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
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

type junitFailure struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	File      string        `xml:"file,attr,omitempty"`
	Failure   *junitFailure `xml:"failure,omitempty"`
}

type junitSuite struct {
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Errors   int         `xml:"errors,attr"`
	Cases    []junitCase `xml:"testcase"`
}

type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

func writeJUnit(w io.Writer, chart string, files []string, problems []Problem) error {
	suite := junitSuite{Name: "dpps-schemagen lint " + chart}
	if len(problems) == 0 {
		for _, f := range files {
			suite.Cases = append(suite.Cases, junitCase{Name: f + ": values valid", Classname: "values." + f, File: f})
		}
	}
	for _, p := range problems {
		ptr := p.Pointer
		if ptr == "" {
			ptr = "/"
		}
		suite.Cases = append(suite.Cases, junitCase{
			Name:      fmt.Sprintf("%s:%d:%d %s", p.File, p.Line, p.Column, ptr),
			Classname: "values." + p.File,
			File:      p.File,
			Failure:   &junitFailure{Message: ptr + ": " + p.Message, Type: keywordOr(p.Keyword), Text: p.String()},
		})
		suite.Failures++
	}
	suite.Tests = len(suite.Cases)
	doc := junitSuites{Name: "dpps-schemagen lint", Tests: suite.Tests, Failures: suite.Failures, Suites: []junitSuite{suite}}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

func keywordOr(k string) string {
	if k == "" {
		return "yaml"
	}
	return k
}
