package redact

import (
	"encoding/base64"
	"net/url"
	"strings"
	"testing"
)

func TestRedact(t *testing.T) {
	r := &Redactor{}
	r.Add("db-password", "Cred+Db/Pw=9!x")
	r.Add("other-name", "Cred+Db/Pw=9!x") // the first name wins
	r.Add("pin", "4711")
	r.Add("empty", "")
	tests := map[string]string{
		"Secret Cred+Db/Pw=9!x is missing":           "Secret <credential db-password> is missing",
		"containers[Cred+Db/Pw=9!x]":                 "containers[<credential db-password>]",
		"b64 " + b64("Cred+Db/Pw=9!x"):               "b64 <credential db-password>",
		"url " + url.QueryEscape("Cred+Db/Pw=9!x"):   "url <credential db-password>",
		"path " + url.PathEscape("Cred+Db/Pw=9!x"):   "path <credential db-password>",
		"lower Cred%2bDb%2fPw%3d9%21x":               "lower <credential db-password>",
		"inside " + b64("user:Cred+Db/Pw=9!x") + ".": "inside " + b64("user:Cred+Db/Pw=9!x")[:4] + "<credential db-password>" + ".",
		"pin 4711, line 47110":                       "pin <credential pin>, line 47110",
		"nothing here":                               "nothing here",
	}
	for in, want := range tests {
		got := r.Redact(in)
		if strings.HasPrefix(in, "inside ") {
			// Only the part only the value decides is replaced; the
			// value must be gone, whatever is left around it.
			if strings.Contains(got, b64("user:Cred+Db/Pw=9!x")) || !strings.Contains(got, "<credential db-password>") {
				t.Errorf("Redact(%q) = %q", in, got)
			}
			continue
		}
		if got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// TestBase64Forms: each alignment's run is found in the encoding of a text
// that holds the value at that alignment.
func TestBase64Forms(t *testing.T) {
	const v = "Dev-Corpus-Pg-8812"
	forms := Base64Forms(v)
	for _, prefix := range []string{"", "a", "ab", "abc", `{"password": "`} {
		enc := b64(prefix + v + `", "user": "x"}`)
		found := false
		for _, f := range forms {
			if strings.Contains(enc, f) {
				found = true
			}
		}
		if !found {
			t.Errorf("prefix %q: no form of the value in %s", prefix, enc)
		}
	}
}

// TestWriter: a value split over two writes is still replaced.
func TestWriter(t *testing.T) {
	r := &Redactor{}
	r.Add("x", "split-credential-value")
	var out strings.Builder
	w := r.Writer(&out)
	w.Write([]byte("error: split-cred"))
	w.Write([]byte("ential-value\n"))
	if out.Len() != 0 {
		t.Error("written before Flush")
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); got != "error: <credential x>\n" {
		t.Errorf("got %q", got)
	}
}
