// Package redact keeps credential values out of everything dpps-render
// writes for people: error messages on stderr, the --report file, KRM
// results and the output of its inspection commands. Whatever finds a
// credential registers its value; every message passes through Redact,
// which replaces the value and its encoded forms by "<credential NAME>".
package redact

import (
	"bytes"
	"encoding/base64"
	"io"
	"net/url"
	"slices"
	"strings"
	"sync"
)

// minAnywhere is the shortest form replaced wherever it occurs. A shorter
// one is replaced only as a whole word: "document 1" stays readable when a
// Secret holds "1".
const minAnywhere = 8

// Redactor replaces registered credential values in text. It is safe for
// concurrent use; the zero value is ready.
type Redactor struct {
	mu    sync.Mutex
	names map[string]string // form -> credential name; the first name wins
	forms []string          // keys of names, longest first; nil when stale
}

// Process is the redactor of this process: the code that finds a
// credential (credentials.Find, the plaintext detector) registers it here,
// and the command prints through it.
var Process = &Redactor{}

// Add registers a credential's value under its name, with the value's
// base64 and percent-encoded forms. An empty value is ignored.
func (r *Redactor) Add(name, value string) {
	if value == "" {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.names == nil {
		r.names = map[string]string{}
	}
	for _, f := range append([]string{value}, Encodings(value)...) {
		if _, ok := r.names[f]; !ok {
			r.names[f] = name
			r.forms = nil
		}
	}
}

// Redact returns text with every registered form replaced.
func (r *Redactor) Redact(text string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.names) == 0 {
		return text
	}
	if r.forms == nil {
		for f := range r.names {
			r.forms = append(r.forms, f)
		}
		// Longest first, so that a value is replaced before a shorter
		// value inside it; then by text, for the same output every run.
		slices.SortFunc(r.forms, func(a, b string) int {
			if len(a) != len(b) {
				return len(b) - len(a)
			}
			return strings.Compare(a, b)
		})
	}
	for _, f := range r.forms {
		if !strings.Contains(text, f) {
			continue
		}
		mark := "<credential " + r.names[f] + ">"
		if len(f) >= minAnywhere {
			text = strings.ReplaceAll(text, f, mark)
		} else {
			text = replaceWords(text, f, mark)
		}
	}
	return text
}

// replaceWords replaces f where it is not part of a longer word of
// letters and digits.
func replaceWords(text, f, mark string) string {
	var b strings.Builder
	for {
		i := strings.Index(text, f)
		if i < 0 {
			b.WriteString(text)
			return b.String()
		}
		end := i + len(f)
		if (i == 0 || !wordByte(text[i-1])) && (end == len(text) || !wordByte(text[end])) {
			b.WriteString(text[:i])
			b.WriteString(mark)
		} else {
			b.WriteString(text[:end])
		}
		text = text[end:]
	}
}

func wordByte(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80
}

// Encodings returns the forms of value, other than itself, in which a
// chart or a message may carry it: base64 (standard and URL alphabets,
// padded and not, and the parts of the value's encoding that stay the same
// wherever it sits inside a longer base64 text) and percent-encoding
// (query, path and userinfo escaping, upper and lower case hex).
func Encodings(value string) []string {
	seen := map[string]bool{value: true}
	var out []string
	add := func(f string) {
		if f != "" && !seen[f] {
			seen[f] = true
			out = append(out, f)
		}
	}
	for _, f := range Base64Forms(value) {
		add(f)
	}
	for _, f := range percentForms(value) {
		add(f)
		add(lowerHex(f))
	}
	return out
}

// Base64Forms returns value's base64 encodings: the whole encodings, then
// for each of the three alignments a value can have inside a longer
// encoded text, the run of base64 characters that only the value's bytes
// determine (kept when at least minAnywhere long, shorter runs would match
// unrelated text).
func Base64Forms(value string) []string {
	var out []string
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		out = append(out, enc.EncodeToString([]byte(value)))
	}
	for shift := range 3 {
		buf := make([]byte, shift+len(value))
		copy(buf[shift:], value)
		full := base64.RawStdEncoding.EncodeToString(buf)
		start, end := 0, len(full)
		if shift > 0 { // the first group mixes in bytes before the value
			start = 4
		}
		if len(buf)%3 != 0 { // the last group mixes in bytes after it
			end = len(buf) / 3 * 4
		}
		if end-start >= minAnywhere {
			mid := full[start:end]
			out = append(out, mid, strings.NewReplacer("+", "-", "/", "_").Replace(mid))
		}
	}
	return out
}

func percentForms(value string) []string {
	return []string{
		url.QueryEscape(value),
		strings.ReplaceAll(url.QueryEscape(value), "+", "%20"),
		url.PathEscape(value),
		strings.TrimPrefix(url.UserPassword("", value).String(), ":"),
	}
}

// lowerHex writes a percent-encoded text's hex digits in lower case.
func lowerHex(s string) string {
	b := []byte(s)
	for i := 0; i+2 < len(b); i++ {
		if b[i] == '%' {
			b[i+1], b[i+2] = lower(b[i+1]), lower(b[i+2])
		}
	}
	return string(b)
}

func lower(c byte) byte {
	if c >= 'A' && c <= 'F' {
		return c + 'a' - 'A'
	}
	return c
}

// Writer holds what is written to it until Flush, then writes it to the
// underlying writer redacted: a value split over two writes is still found.
type Writer struct {
	r   *Redactor
	w   io.Writer
	buf bytes.Buffer
}

// Writer returns a redacting writer in front of w.
func (r *Redactor) Writer(w io.Writer) *Writer { return &Writer{r: r, w: w} }

func (w *Writer) Write(p []byte) (int, error) { return w.buf.Write(p) }

// Flush writes what was written so far, redacted.
func (w *Writer) Flush() error {
	if w.buf.Len() == 0 {
		return nil
	}
	text := w.r.Redact(w.buf.String())
	w.buf.Reset()
	_, err := io.WriteString(w.w, text)
	return err
}
