package upgrade

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/ctao/dpps-deploy/internal/junit"
)

// Formats are the output formats of Write.
var Formats = []string{"table", "json", "junit"}

// Write writes a report as "table" (findings, then the changes object by
// object, then a summary line), "json" or "junit" (a test case per rule
// category, failing with its findings, and one per changed object).
func Write(w io.Writer, format string, rep *Report) error {
	switch format {
	case "table":
		return table(w, rep)
	case "json":
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	case "junit":
		return writeJUnit(w, rep)
	}
	return fmt.Errorf("unknown output format %q; valid formats: %s", format, strings.Join(Formats, ", "))
}

// Categories are the finding categories, in report order, with what each
// means.
var Categories = []struct {
	Category Category
	Title    string
}{
	{Refused, "changes Kubernetes refuses"},
	{DataLoss, "changes that lose data"},
	{ConsumerBreak, "changes that break consumers"},
}

func (f Field) String() string {
	switch f.Op {
	case Added:
		if f.New == "" {
			return "+ " + f.Path + " (value hidden)"
		}
		return "+ " + f.Path + ": " + f.New
	case Removed:
		if f.Old == "" {
			return "- " + f.Path + " (value hidden)"
		}
		return "- " + f.Path + ": " + f.Old
	}
	if f.Old == "" && f.New == "" {
		return "~ " + f.Path + ": changed (value hidden)"
	}
	return "~ " + f.Path + ": " + f.Old + " -> " + f.New
}

func table(w io.Writer, rep *Report) error {
	fmt.Fprintf(w, "OLD %d object(s), NEW %d object(s)", rep.Old, rep.New)
	if rep.Catalog != "" {
		fmt.Fprintf(w, "; catalog from %s", rep.Catalog)
	} else {
		fmt.Fprint(w, "; no catalog: consumer and credential rules skipped")
	}
	fmt.Fprintln(w)
	for _, cat := range Categories {
		var lines []string
		for _, f := range rep.Findings {
			if f.Category == cat.Category {
				l := "  " + f.Object + ": " + f.Rule
				if f.Path != "" {
					l += " " + f.Path
				}
				lines = append(lines, l+"\n      "+f.Message)
			}
		}
		if len(lines) == 0 {
			continue
		}
		fmt.Fprintf(w, "\n%s (%d):\n%s\n", strings.ToUpper(cat.Title[:1])+cat.Title[1:], len(lines), strings.Join(lines, "\n"))
	}
	if len(rep.Changes) > 0 {
		fmt.Fprintln(w, "\nChanges:")
		for _, ch := range rep.Changes {
			switch ch.Op {
			case Added:
				fmt.Fprintf(w, "+ %s (added)\n", ch.Object)
			case Removed:
				fmt.Fprintf(w, "- %s (removed)\n", ch.Object)
			default:
				fmt.Fprintf(w, "~ %s\n", ch.Object)
				for _, f := range ch.Fields {
					fmt.Fprintf(w, "    %s\n", f)
				}
			}
		}
	}
	added, removed, changed := 0, 0, 0
	for _, ch := range rep.Changes {
		switch ch.Op {
		case Added:
			added++
		case Removed:
			removed++
		default:
			changed++
		}
	}
	_, err := fmt.Fprintf(w, "\n%s: %d refused, %d data loss, %d consumer break(s); %d changed, %d added, %d removed, %d unchanged\n",
		map[bool]string{true: "ok", false: "FAILED"}[rep.OK], rep.Count(Refused), rep.Count(DataLoss), rep.Count(ConsumerBreak),
		changed, added, removed, rep.Unchanged)
	return err
}

func writeJUnit(w io.Writer, rep *Report) error {
	var cases []junit.Case
	for _, cat := range Categories {
		c := junit.Case{Name: cat.Title, Classname: "upgrade." + string(cat.Category)}
		var text []string
		for _, f := range rep.Findings {
			if f.Category == cat.Category {
				text = append(text, f.String())
			}
		}
		if len(text) > 0 {
			first := rep.Findings[0]
			for _, f := range rep.Findings {
				if f.Category == cat.Category {
					first = f
					break
				}
			}
			c.Failure = &junit.Failure{Message: fmt.Sprintf("%d finding(s); first: %s %s", len(text), first.Object, first.Rule), Type: string(cat.Category), Text: strings.Join(text, "\n")}
		}
		cases = append(cases, c)
	}
	for _, ch := range rep.Changes {
		c := junit.Case{Name: string(ch.Op) + " " + ch.Object, Classname: "upgrade.changes"}
		var lines []string
		for _, f := range ch.Fields {
			lines = append(lines, f.String())
		}
		c.SystemOut = strings.Join(lines, "\n")
		cases = append(cases, c)
	}
	return junit.Write(w, "dpps-render upgrade-check", "dpps-render upgrade-check", cases)
}
