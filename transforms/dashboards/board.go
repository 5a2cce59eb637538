package dashboards

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
	"github.com/grafana/grafana-foundation-sdk/go/stat"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"
)

// Board is one generated dashboard.
type Board struct {
	// Subchart is the subchart it shows, "" for the overview.
	Subchart  string
	UID       string
	Dashboard dashboard.Dashboard
}

// The template variables of every dashboard.
const (
	datasourceVar = "datasource"
	namespaceVar  = "namespace"
)

// The target labels every scraped series carries (the series contract of
// docs/observability.md).
const (
	LabelComponent = "dpps_component"
	LabelSubchart  = "dpps_subchart"
	LabelRelease   = "dpps_release"
)

// Build builds the overview and one dashboard per subchart with a
// component in the render, overview first, then by subchart name.
func Build(rel Release) ([]Board, error) {
	bySubchart := map[string][]Component{}
	for _, name := range slices.Sorted(maps.Keys(rel.Components)) {
		c := rel.Components[name]
		bySubchart[c.Subchart] = append(bySubchart[c.Subchart], c)
	}
	subcharts := slices.Sorted(maps.Keys(bySubchart))
	overview, err := buildOverview(rel, subcharts, bySubchart)
	if err != nil {
		return nil, err
	}
	boards := []Board{overview}
	for _, s := range subcharts {
		b, err := buildSubchart(rel, s, bySubchart[s])
		if err != nil {
			return nil, err
		}
		boards = append(boards, b)
	}
	return boards, nil
}

func datasource() common.DataSourceRef {
	t, uid := "prometheus", "${"+datasourceVar+"}"
	return common.DataSourceRef{Type: &t, Uid: &uid}
}

// newDashboard has what every dashboard shares: the datasource and
// namespace variables, tags, links to the release's other dashboards.
func newDashboard(rel Release, uid, title, description string) *dashboard.DashboardBuilder {
	nsQuery := fmt.Sprintf(`label_values(kube_pod_info{pod=~"%s-.+"}, namespace)`, regexp.QuoteMeta(rel.Name))
	ns := dashboard.NewQueryVariableBuilder(namespaceVar).
		Label("Namespace").
		Description("The release's namespace: where kube-state-metrics sees its pods.").
		Datasource(datasource()).
		Query(dashboard.StringOrMap{String: &nsQuery}).
		Definition(nsQuery).
		Refresh(dashboard.VariableRefreshOnTimeRangeChanged).
		Sort(dashboard.VariableSortAlphabeticalAsc)
	if rel.Namespace != "" {
		ns = ns.Current(dashboard.VariableOption{Text: dashboard.StringOrArrayOfString{String: &rel.Namespace}, Value: dashboard.StringOrArrayOfString{String: &rel.Namespace}})
	}
	return dashboard.NewDashboardBuilder(title).
		Uid(uid).
		Description(description).
		Tags([]string{"dpps", "dpps-" + rel.Name}).
		Readonly().
		Refresh("1m").
		Time("now-6h", "now").
		Timezone(common.TimeZoneBrowser).
		Tooltip(dashboard.DashboardCursorSyncCrosshair).
		WithVariable(dashboard.NewDatasourceVariableBuilder(datasourceVar).Label("Prometheus").Type("prometheus")).
		WithVariable(ns).
		Link(dashboard.NewDashboardLinkBuilder("DPPS " + rel.Name).
			Type(dashboard.DashboardLinkTypeDashboards).
			Tags([]string{"dpps-" + rel.Name}).
			AsDropdown(true).
			IncludeVars(true).
			KeepTime(true))
}

// selector is a PromQL label selector on the series contract.
func selector(rel Release, comp string) string {
	s := fmt.Sprintf(`%s=%q, namespace="$%s"`, LabelRelease, rel.Name, namespaceVar)
	if comp != "" {
		s = fmt.Sprintf(`%s=%q, %s`, LabelComponent, comp, s)
	}
	return s
}

func query(expr, legend string) *prometheus.DataqueryBuilder {
	return prometheus.NewDataqueryBuilder().Expr(expr).LegendFormat(legend).Datasource(datasource())
}

func upStat(rel Release, c Component, title string, w uint32) *stat.PanelBuilder {
	return stat.NewPanelBuilder().
		Title(title).
		Description(fmt.Sprintf("Targets of %s that Prometheus scrapes successfully (up == 1), of all its targets (port %d, path %s).", c.Name, c.Metrics.Port, c.Metrics.Path)).
		Datasource(datasource()).
		Span(w).Height(4).
		WithTarget(query(fmt.Sprintf(`sum(up{%s})`, selector(rel, c.Name)), "up").Instant()).
		WithTarget(query(fmt.Sprintf(`count(up{%s})`, selector(rel, c.Name)), "targets").Instant()).
		Thresholds(dashboard.NewThresholdsConfigBuilder().Mode(dashboard.ThresholdsModeAbsolute).Steps([]dashboard.Threshold{
			{Color: "red"}, {Value: ptr(1.0), Color: "green"},
		})).
		GraphMode(common.BigValueGraphModeNone).
		Orientation(common.VizOrientationAuto).
		ReduceOptions(common.NewReduceDataOptionsBuilder().Calcs([]string{"lastNotNull"}))
}

// workloadPanel shows a component's workload from kube-state-metrics, by
// its name: replicas of a Deployment or StatefulSet, outcomes of a Job.
func workloadPanel(c Component) cog.Builder[dashboard.Panel] {
	ns := `namespace="$` + namespaceVar + `"`
	p := newTimeseries().Span(8).Height(7).Min(0)
	switch c.Workload {
	case "Deployment":
		d := fmt.Sprintf(`%s, deployment=%q`, ns, c.objectName())
		return p.Title("Replicas").
			Description(fmt.Sprintf("Replicas of Deployment %s: wanted and available (kube-state-metrics).", c.objectName())).
			WithTarget(query(`kube_deployment_spec_replicas{`+d+`}`, "wanted")).
			WithTarget(query(`kube_deployment_status_replicas_available{`+d+`}`, "available"))
	case "StatefulSet":
		s := fmt.Sprintf(`%s, statefulset=%q`, ns, c.objectName())
		return p.Title("Replicas").
			Description(fmt.Sprintf("Replicas of StatefulSet %s: wanted and ready (kube-state-metrics).", c.objectName())).
			WithTarget(query(`kube_statefulset_replicas{`+s+`}`, "wanted")).
			WithTarget(query(`kube_statefulset_status_replicas_ready{`+s+`}`, "ready"))
	default:
		j := fmt.Sprintf(`%s, job_name=~%q`, ns, c.jobRegexp())
		return p.Title("Job runs").
			Description(fmt.Sprintf("Succeeded and failed pods of the Jobs of %s (%s, a new one per chart version or upgrade; kube-state-metrics).", c.Name, c.objectName())).
			WithTarget(query(`sum by (job_name) (kube_job_status_succeeded{`+j+`})`, "{{job_name}} succeeded")).
			WithTarget(query(`sum by (job_name) (kube_job_status_failed{`+j+`})`, "{{job_name}} failed"))
	}
}

// restartsPanel counts container restarts of the component's pods, found
// by their owner (kube_pod_owner): the ReplicaSets of a Deployment, the
// StatefulSet, the Jobs.
func restartsPanel(c Component) cog.Builder[dashboard.Panel] {
	ns := `namespace="$` + namespaceVar + `"`
	var owner string
	switch c.Workload {
	case "Deployment":
		owner = fmt.Sprintf(`owner_kind="ReplicaSet", owner_name=~"%s-[a-z0-9]+"`, regexp.QuoteMeta(c.objectName()))
	case "StatefulSet":
		owner = fmt.Sprintf(`owner_kind="StatefulSet", owner_name=%q`, c.objectName())
	default:
		owner = fmt.Sprintf(`owner_kind="Job", owner_name=~%q`, c.jobRegexp())
	}
	expr := fmt.Sprintf(`sum by (pod) (increase(kube_pod_container_status_restarts_total{%s}[$__rate_interval]) * on (namespace, pod) group_left () max by (namespace, pod) (kube_pod_owner{%s, %s}))`, ns, ns, owner)
	return newTimeseries().Span(8).Height(7).Min(0).
		Title("Container restarts").
		Description(fmt.Sprintf("Container restarts of the pods of %s (kube-state-metrics, pods found through kube_pod_owner).", c.Name)).
		WithTarget(query(expr, "{{pod}}"))
}

// objectName is the workload's name: the catalog's, with the release's
// name filled in (a versioned Job's name starts with it).
func (c Component) objectName() string { return c.Object }

// jobRegexp matches the component's Job names: its name, or its name and
// a version suffix.
func (c Component) jobRegexp() string {
	return regexp.QuoteMeta(c.objectName()) + "(-.+)?"
}

func buildSubchart(rel Release, subchart string, comps []Component) (Board, error) {
	uid := UID(rel.Name, subchart)
	b := newDashboard(rel, uid, fmt.Sprintf("DPPS %s / %s", rel.Name, subchart),
		fmt.Sprintf("Subchart %s of release %s: a row per component. Generated by dpps-render from the interface catalog; edits are overwritten.", subchart, rel.Name))
	l := &layout{b: b}
	for _, c := range comps {
		l.row(c.Name)
		if c.Metrics != nil {
			l.panel(upStat(rel, c, "Targets up", 4))
			l.panel(newTimeseries().Span(10).Height(4).
				Title("Scrape duration").
				Description(fmt.Sprintf("How long scraping each target of %s takes (scrape_duration_seconds).", c.Name)).
				Unit("s").Min(0).
				WithTarget(query(fmt.Sprintf(`scrape_duration_seconds{%s}`, selector(rel, c.Name)), "{{instance}}")))
			l.panel(newTimeseries().Span(10).Height(4).
				Title("Up").
				Description(fmt.Sprintf("Each target of %s: 1 while Prometheus scrapes it.", c.Name)).
				Min(0).Max(1).
				WithTarget(query(fmt.Sprintf(`up{%s}`, selector(rel, c.Name)), "{{instance}}")))
		}
		l.panel(workloadPanel(c))
		l.panel(restartsPanel(c))
	}
	d, err := b.Build()
	if err != nil {
		return Board{}, fmt.Errorf("dashboard %s: %w", uid, err)
	}
	return Board{Subchart: subchart, UID: uid, Dashboard: d}, nil
}

func buildOverview(rel Release, subcharts []string, by map[string][]Component) (Board, error) {
	uid := UID(rel.Name, "")
	b := newDashboard(rel, uid, fmt.Sprintf("DPPS %s overview", rel.Name),
		fmt.Sprintf("Release %s: every component's targets up and every Job that failed; a dashboard per subchart has the details. Generated by dpps-render from the interface catalog; edits are overwritten.", rel.Name))
	l := &layout{b: b}
	for _, s := range subcharts {
		l.row(s)
		for _, c := range by[s] {
			if c.Metrics != nil {
				l.panel(upStat(rel, c, c.Name+" up", 4))
			}
		}
		var jobs []Component
		for _, c := range by[s] {
			if c.Workload == "Job" {
				jobs = append(jobs, c)
			}
		}
		if len(jobs) > 0 {
			p := newTimeseries().Span(8).Height(4).Min(0).
				Title("Jobs failed").
				Description(fmt.Sprintf("Failed pods of the Jobs of subchart %s (kube-state-metrics); 0 when all succeed.", s))
			for _, c := range jobs {
				p = p.WithTarget(query(fmt.Sprintf(`sum(kube_job_status_failed{namespace="$%s", job_name=~%q}) or vector(0)`, namespaceVar, c.jobRegexp()), c.Name))
			}
			l.panel(p)
		}
		var workloads, owners []string
		for _, c := range by[s] {
			switch c.Workload {
			case "Deployment":
				owners = append(owners, regexp.QuoteMeta(c.objectName())+"-[a-z0-9]+")
			case "StatefulSet":
				owners = append(owners, regexp.QuoteMeta(c.objectName()))
			default:
				continue
			}
			workloads = append(workloads, c.Name)
		}
		if len(workloads) > 0 {
			expr := fmt.Sprintf(`sum by (pod) (kube_pod_status_ready{namespace="$%s", condition="false"} * on (namespace, pod) group_left () max by (namespace, pod) (kube_pod_info{namespace="$%s", created_by_name=~%q}))`, namespaceVar, namespaceVar, strings.Join(owners, "|"))
			l.panel(newTimeseries().Span(8).Height(4).Min(0).
				Title("Pods not ready").
				Description(fmt.Sprintf("Pods of subchart %s that are not ready (kube-state-metrics): %s.", s, strings.Join(workloads, ", "))).
				WithTarget(query(expr, "{{pod}}")))
		}
	}
	d, err := b.Build()
	if err != nil {
		return Board{}, fmt.Errorf("dashboard %s: %w", uid, err)
	}
	return Board{UID: uid, Dashboard: d}, nil
}

func ptr[T any](v T) *T { return &v }

// newTimeseries is a time series panel on the datasource variable, with
// its legend shown and every series in the tooltip.
func newTimeseries() *timeseries.PanelBuilder {
	return timeseries.NewPanelBuilder().Datasource(datasource()).
		Legend(common.NewVizLegendOptionsBuilder().ShowLegend(true).DisplayMode(common.LegendDisplayModeList).Placement(common.LegendPlacementBottom)).
		Tooltip(common.NewVizTooltipOptionsBuilder().Mode(common.TooltipDisplayModeMulti).Sort(common.SortOrderDescending))
}

// layout adds open rows and panels in order, each with its own id (Grafana
// needs them unique within a dashboard); the SDK places them on the grid.
type layout struct {
	b  *dashboard.DashboardBuilder
	id uint32
}

func (l *layout) row(title string) {
	l.id++
	l.b.WithRow(dashboard.NewRowBuilder(title).Collapsed(false).Id(l.id))
}

func (l *layout) panel(p cog.Builder[dashboard.Panel]) {
	l.id++
	l.b.WithPanel(withID{p, l.id})
}

// withID builds a panel and gives it an id.
type withID struct {
	cog.Builder[dashboard.Panel]
	id uint32
}

func (w withID) Build() (dashboard.Panel, error) {
	p, err := w.Builder.Build()
	p.Id = &w.id
	return p, err
}
