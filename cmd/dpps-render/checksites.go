package main

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/ctao/dpps-deploy/transforms/externals"
	"github.com/ctao/dpps-deploy/transforms/release"
)

// checkRender checks one render (file, or stdin for "" and "-"): the
// external interfaces, Pod Security, the declared metrics endpoints and the
// failover topology. It returns
// the report and the site's topology.
func checkRender(file, profile, catalog, level string, stdin io.Reader) (*externals.Report, *release.Info, error) {
	nodes, err := readStream(file, stdin)
	if err != nil {
		return nil, nil, err
	}
	learnCredentials(nodes, catalog)
	rep, err := externals.Check(nodes, catalog, profile)
	if err != nil {
		return nil, nil, err
	}
	if err := checkPodSecurity(rep, nodes, catalog, level); err != nil {
		return nil, nil, err
	}
	if err := checkMetrics(rep, nodes, catalog, profile); err != nil {
		return nil, nil, err
	}
	info, err := checkFailover(rep, nodes, catalog)
	if err != nil {
		return nil, nil, err
	}
	return rep, info, nil
}

// checkFailover adds the findings of the render's failover topology to
// the report.
func checkFailover(rep *externals.Report, nodes []*yaml.RNode, catalog string) (*release.Info, error) {
	info, err := release.Find(nodes, catalog)
	if err != nil {
		return nil, err
	}
	rep.Findings = append(rep.Findings, externals.CheckFailover(nodes, info)...)
	rep.OK = rep.Errors() == 0
	return info, nil
}

// sitesReport is check's JSON across sites.
type sitesReport struct {
	OK       bool         `json:"ok"`
	Sites    []siteReport `json:"sites"`
	Failover struct {
		OK       bool                `json:"ok"`
		Findings []externals.Finding `json:"findings"`
	} `json:"failover"`
}

type siteReport struct {
	Site   string            `json:"site"`
	File   string            `json:"file"`
	Report *externals.Report `json:"report"`
}

// checkSites checks each site's render, then the failover topology across
// them.
func checkSites(renders []render, profile, catalog, output, level string, stdin io.Reader, stdout, stderr io.Writer) int {
	var all sitesReport
	var tops []externals.SiteTopology
	for _, r := range renders {
		rep, info, err := checkRender(r.file, profile, catalog, level, stdin)
		if err != nil {
			fmt.Fprintf(stderr, "dpps-render check: site %s: %v\n", r.site, err)
			return exitUsage
		}
		all.Sites = append(all.Sites, siteReport{Site: r.site, File: r.file, Report: rep})
		tops = append(tops, externals.NewSiteTopology(r.site, info))
	}
	all.Failover.Findings = externals.CheckSites(tops)
	if all.Failover.Findings == nil {
		all.Failover.Findings = []externals.Finding{}
	}
	all.Failover.OK = len(all.Failover.Findings) == 0
	all.OK = all.Failover.OK
	for _, s := range all.Sites {
		all.OK = all.OK && s.Report.OK
	}
	var err error
	if output == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		err = enc.Encode(all)
	} else {
		err = writeSitesTable(stdout, all, tops)
	}
	if err != nil {
		fmt.Fprintf(stderr, "dpps-render check: %v\n", err)
		return exitUsage
	}
	if !all.OK {
		return exitFailed
	}
	return exitOK
}

func writeSitesTable(w io.Writer, all sitesReport, tops []externals.SiteTopology) error {
	for i, s := range all.Sites {
		if i > 0 {
			fmt.Fprintln(w)
		}
		fmt.Fprintf(w, "== site %s (%s) ==\n", s.Site, s.File)
		if err := externals.WriteCheck(w, "table", s.Report); err != nil {
			return err
		}
	}
	fmt.Fprintf(w, "\n== failover across %d site(s) ==\n", len(all.Sites))
	declared := map[string][]string{}
	for _, t := range tops {
		for db, d := range t.Failover.Databases() {
			declared[db] = append(declared[db], fmt.Sprintf("%s %s (primary %s)", t.Name, t.Failover.Role(db), d.Primary))
		}
	}
	for _, db := range slices.Sorted(maps.Keys(declared)) {
		fmt.Fprintf(w, "%s: %s\n", db, strings.Join(declared[db], ", "))
	}
	for _, f := range all.Failover.Findings {
		fmt.Fprintln(w, f.String())
	}
	failed := 0
	for _, s := range all.Sites {
		if !s.Report.OK {
			failed++
		}
	}
	verdict := "ok"
	if !all.OK {
		verdict = "FAILED"
	}
	_, err := fmt.Fprintf(w, "\n%s: %d site(s), %d failing its own check, %d failover error(s)\n", verdict, len(all.Sites), failed, len(all.Failover.Findings))
	return err
}
