package schema

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"

	"cuelang.org/go/cue"
)

// ChartDir is the umbrella chart's directory relative to the repository
// root; its subcharts are the directories of ChartDir/charts.
const ChartDir = "charts/dpps"

// Release is the release fact of interfaces/release.cue.
type Release struct {
	// Version is every chart's version and the umbrella's dependencies'.
	Version string `json:"version"`
	// AppVersions is each chart's appVersion, by chart name (the
	// umbrella's is "dpps").
	AppVersions map[string]string `json:"appVersions"`
}

// ReleaseOf reads the release fact from the evaluated CUE module.
func ReleaseOf(root cue.Value) (Release, error) {
	var r Release
	v := root.LookupPath(cue.ParsePath("release"))
	if !v.Exists() {
		return r, errors.New("interfaces: no release fact (release: version, appVersions): see interfaces/release.cue")
	}
	if err := v.Decode(&r); err != nil {
		return r, fmt.Errorf("interfaces: release: %v", err)
	}
	return r, nil
}

var (
	chartVersionLine    = regexp.MustCompile(`(?m)^version:[ \t]*.*$`)
	chartAppVersionLine = regexp.MustCompile(`(?m)^appVersion:[ \t]*.*$`)
	dependencyVersion   = regexp.MustCompile(`(?m)^([ \t]+(?:-[ \t]+)?)version:[ \t]*.*$`)
)

// ChartOutputs returns every Chart.yaml under root/ChartDir with its
// version, appVersion and (for the umbrella) dependency versions set from
// r; the rest of each file is kept as written. Without the chart (outside
// the repository) there is nothing to keep in step: no outputs. A chart
// with no appVersion in r, or an appVersion for no chart, is an error.
func ChartOutputs(root string, r Release) ([]Output, error) {
	umbrella := filepath.Join(ChartDir, "Chart.yaml")
	if _, err := os.Stat(filepath.Join(root, umbrella)); errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	charts := map[string]string{"dpps": umbrella}
	subs, err := os.ReadDir(filepath.Join(root, ChartDir, "charts"))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	for _, d := range subs {
		p := filepath.Join(ChartDir, "charts", d.Name(), "Chart.yaml")
		if _, err := os.Stat(filepath.Join(root, p)); err == nil {
			charts[d.Name()] = p
		}
	}
	for _, name := range slices.Sorted(maps.Keys(r.AppVersions)) {
		if _, ok := charts[name]; !ok {
			return nil, fmt.Errorf("interfaces/release.cue: release.appVersions.%s: no chart %s under %s", name, name, ChartDir)
		}
	}
	var outs []Output
	for _, name := range slices.Sorted(maps.Keys(charts)) {
		p := charts[name]
		app, ok := r.AppVersions[name]
		if !ok {
			return nil, fmt.Errorf("%s: chart %s has no appVersion in interfaces/release.cue: add release.appVersions.%q", p, name, name)
		}
		data, err := os.ReadFile(filepath.Join(root, p))
		if err != nil {
			return nil, err
		}
		if !chartVersionLine.Match(data) || !chartAppVersionLine.Match(data) {
			return nil, fmt.Errorf("%s: want a top-level version: and appVersion: line for dpps-schemagen to set", p)
		}
		data = chartVersionLine.ReplaceAllLiteral(data, []byte("version: "+r.Version))
		data = chartAppVersionLine.ReplaceAllLiteral(data, []byte("appVersion: "+strconv.Quote(app)))
		if name == "dpps" {
			data = dependencyVersion.ReplaceAll(data, []byte("${1}version: "+r.Version))
		}
		outs = append(outs, Output{Path: p, Data: data})
	}
	return outs, nil
}
