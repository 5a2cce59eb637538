package externals

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/ctao/dpps-deploy/internal/junit"
)

// CheckFormats are the output formats of WriteCheck.
var CheckFormats = []string{"table", "json", "junit"}

// InventoryFormats are the output formats of WriteInventory.
var InventoryFormats = []string{"table", "json"}

// WriteCheck writes a check report as "table" (the interfaces, then the
// findings, then a summary line), "json" or "junit" (a test case per
// external interface, failing with its errors, and one per other error).
func WriteCheck(w io.Writer, format string, rep *Report) error {
	switch format {
	case "table":
		return checkTable(w, rep)
	case "json":
		return writeJSON(w, rep)
	case "junit":
		return checkJUnit(w, rep)
	}
	return fmt.Errorf("unknown output format %q; valid formats: %s", format, strings.Join(CheckFormats, ", "))
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func checkTable(w io.Writer, rep *Report) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	if rep.Catalog != "" {
		fmt.Fprintf(tw, "profile %s; catalog from %s\n\n", rep.Profile, rep.Catalog)
		fmt.Fprintln(tw, "INTERFACE\tDIRECTION\tPROTOCOL\tPORT\tAUTH\tUSERS\tENDPOINT")
		for _, i := range rep.Interfaces {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%d\t%s\n", i.Name, i.Direction, i.Protocol, i.Port, i.Auth, len(i.Users), i.Endpoint)
		}
	} else {
		fmt.Fprintf(tw, "profile %s\n", rep.Profile)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(rep.Findings) > 0 {
		fmt.Fprintln(w)
		for _, f := range rep.Findings {
			fmt.Fprintln(w, f.String())
		}
	}
	errs, notes := rep.Errors(), 0
	for _, f := range rep.Findings {
		if f.Severity == SeverityNote {
			notes++
		}
	}
	// Notes are counted only when there are some: older reports read the same.
	noteCount := ""
	if notes > 0 {
		noteCount = fmt.Sprintf(", %d note(s)", notes)
	}
	_, err := fmt.Fprintf(w, "\n%s: %d external interface(s), %d error(s), %d warning(s)%s\n",
		map[bool]string{true: "ok", false: "FAILED"}[rep.OK], len(rep.Interfaces), errs, len(rep.Findings)-errs-notes, noteCount)
	return err
}

func checkJUnit(w io.Writer, rep *Report) error {
	var cases []junit.Case
	fail := func(c *junit.Case, fs []Finding) {
		if len(fs) == 0 {
			return
		}
		var text []string
		for _, f := range fs {
			text = append(text, f.String())
		}
		c.Failure = &junit.Failure{Message: fs[0].Message, Type: fs[0].Rule, Text: strings.Join(text, "\n")}
	}
	var loose []Finding
	byIface := map[string][]Finding{}
	for _, f := range rep.Findings {
		switch {
		case f.Severity != SeverityError:
		case f.Interface != "":
			byIface[f.Interface] = append(byIface[f.Interface], f)
		default:
			loose = append(loose, f)
		}
	}
	for _, i := range rep.Interfaces {
		c := junit.Case{Name: "external " + i.Name, Classname: "externals." + i.Name, SystemOut: i.Endpoint}
		fail(&c, byIface[i.Name])
		cases = append(cases, c)
	}
	for _, f := range loose {
		c := junit.Case{Name: f.Rule + " " + f.Object, Classname: "externals." + f.Rule}
		fail(&c, []Finding{f})
		cases = append(cases, c)
	}
	return junit.Write(w, "dpps-render check", "dpps-render check "+rep.Profile, cases)
}

// WriteInventory writes workloads as "table" (a row per image, so that
// grep finds every workload of an image) or "json". With sites, the table
// starts with a SITE column (the JSON has a "site" field whenever a
// workload has one).
func WriteInventory(w io.Writer, format string, ws []Workload, sites bool) error {
	switch format {
	case "json":
		return writeJSON(w, struct {
			Workloads []Workload `json:"workloads"`
		}{ws})
	case "table":
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		site := func(s string) string {
			if !sites {
				return ""
			}
			return dash(s) + "\t"
		}
		fmt.Fprintln(tw, site("SITE")+"WORKLOAD\tSUBCHART\tCHART\tCONTAINER\tREPOSITORY\tTAG\tDIGEST\tINTERFACES")
		for _, wl := range ws {
			var ifs []string
			if len(wl.Externals) > 0 {
				ifs = append(ifs, "external: "+strings.Join(wl.Externals, ","))
			}
			if len(wl.Provides) > 0 {
				ifs = append(ifs, "provides: "+strings.Join(wl.Provides, ","))
			}
			if len(wl.Consumes) > 0 {
				ifs = append(ifs, "consumes: "+strings.Join(wl.Consumes, ","))
			}
			for _, img := range wl.Images {
				c := img.Container
				if img.Init {
					c += " (init)"
				}
				fmt.Fprintf(tw, "%s%s/%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", site(wl.Site), wl.Kind, wl.Name, dash(wl.Subchart), dash(wl.Chart),
					c, img.Repository, dash(img.Tag), dash(img.Digest), dash(strings.Join(ifs, "; ")))
			}
		}
		return tw.Flush()
	}
	return fmt.Errorf("unknown output format %q; valid formats: %s", format, strings.Join(InventoryFormats, ", "))
}

// WriteImages writes the images of ByImage as "table" (a row per image:
// the sites, systems and chart versions running it; with sites false, no
// SITES column) or "json".
func WriteImages(w io.Writer, format string, uses []ImageUse, sites bool) error {
	switch format {
	case "json":
		return writeJSON(w, struct {
			Images []ImageUse `json:"images"`
		}{uses})
	case "table":
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		if sites {
			fmt.Fprintln(tw, "IMAGE\tDIGEST\tSITES\tSYSTEMS\tCHARTS")
		} else {
			fmt.Fprintln(tw, "IMAGE\tDIGEST\tSYSTEMS\tCHARTS")
		}
		for _, u := range uses {
			charts := u.Charts
			if u.unknownChart {
				charts = append([]string{"-"}, charts...)
			}
			row := []string{u.Image, dash(u.Digest)}
			if sites {
				row = append(row, dash(strings.Join(u.Sites, ",")))
			}
			row = append(row, strings.Join(u.Systems, ","), dash(strings.Join(charts, ",")))
			fmt.Fprintln(tw, strings.Join(row, "\t"))
		}
		return tw.Flush()
	}
	return fmt.Errorf("unknown output format %q; valid formats: %s", format, strings.Join(InventoryFormats, ", "))
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
