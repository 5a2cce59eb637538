package schema

import (
	"strings"

	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// printer formats messages as Helm prints them (Helm uses the same library).
var printer = message.NewPrinter(language.English)

// pointer is the JSON pointer (RFC 6901) of a token path.
func pointer(tokens []string) string {
	var b strings.Builder
	for _, t := range tokens {
		b.WriteByte('/')
		t = strings.ReplaceAll(t, "~", "~0")
		b.WriteString(strings.ReplaceAll(t, "/", "~1"))
	}
	return b.String()
}
