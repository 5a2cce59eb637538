package monitoring

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/ctao/dpps-deploy/catalog"
)

// The alerts of <release>-dpps-alerts. Each has a section of that name in
// docs/observability.md (its runbook).
const (
	AlertTargetDown          = "DPPSTargetDown"
	AlertTargetMissing       = "DPPSTargetMissing"
	AlertDatabaseDown        = "DPPSDatabaseDown"
	AlertJobFailed           = "DPPSJobFailed"
	AlertBackupTooOld        = "DPPSBackupTooOld"
	AlertCertificateExpiring = "DPPSCertificateExpiring"
	AlertBurnFast            = "DPPSErrorBudgetBurnFast"
	AlertBurnSlow            = "DPPSErrorBudgetBurnSlow"
)

// Alerts lists every alert the transform may generate.
var Alerts = []string{AlertTargetDown, AlertTargetMissing, AlertDatabaseDown, AlertJobFailed, AlertBackupTooOld, AlertCertificateExpiring, AlertBurnFast, AlertBurnSlow}

// The recorded SLI series: sliError is 1 while the SLI is bad, 0 while it
// is good; sliError:ratio_rate<window> its average over the window.
const (
	sliError  = "dpps_slo:sli_error"
	sliWindow = "dpps_slo:sli_error:ratio_rate"
	// LabelSLO names the SLO of a recorded series.
	LabelSLO = "dpps_slo"
)

// The burn-rate windows of the SRE workbook's multiwindow, multi-burn-rate
// alerts (for a 30-day objective): a long and a short window per burn
// rate. Page: 2% of the budget in 1h or 5% in 6h; ticket: 10% in 3d (1d
// with 3x) .
var burns = []struct {
	alert, severity string
	pairs           [][2]string
	factors         []string
}{
	{AlertBurnFast, "critical", [][2]string{{"1h", "5m"}, {"6h", "30m"}}, []string{"14.4", "6"}},
	{AlertBurnSlow, "warning", [][2]string{{"1d", "2h"}, {"3d", "6h"}}, []string{"3", "1"}},
}

// sliWindows are the windows every availability SLI is recorded over.
var sliWindows = []string{"5m", "30m", "1h", "2h", "6h", "1d", "3d"}

// CertificateExpiryDays is how long before a host certificate expires
// its alert fires.
const CertificateExpiryDays = 14

// rules builds the PrometheusRule <release>-dpps-alerts.
func (p *Plan) rules(runbooks string) *monitoringv1.PrometheusRule {
	ruleLabels, _ := p.prometheus()
	c := p.info.Catalog
	var groups []monitoringv1.RuleGroup
	add := func(name string, rules []monitoringv1.Rule) {
		if len(rules) > 0 {
			groups = append(groups, monitoringv1.RuleGroup{Name: name, Rules: rules})
		}
	}
	rb := func(alert string) string { return runbooks + "#" + strings.ToLower(alert) }

	// Targets and databases: every component scraped in this render.
	var targets, dbs []monitoringv1.Rule
	seen := map[string]bool{}
	for _, t := range p.Scraped {
		if seen[t.Component] {
			continue
		}
		seen[t.Component] = true
		sel := p.dppsSelector(t.Component)
		l := p.compLabels(t.Component, "warning")
		targets = append(targets,
			alert(AlertTargetDown, "up{"+sel+"} == 0", "5m", l,
				"{{ $labels.dpps_component }} of {{ $labels.dpps_release }}: a metrics target is down",
				"Prometheus cannot scrape {{ $labels.instance }} of component {{ $labels.dpps_component }} (subchart {{ $labels.dpps_subchart }}) for 5 minutes: the pod is not running, not ready, or its metrics port is blocked.", rb(AlertTargetDown)),
			alert(AlertTargetMissing, "absent(up{"+sel+"})", "15m", l,
				"{{ $labels.dpps_component }} of {{ $labels.dpps_release }}: no metrics target",
				"Prometheus has no target of component {{ $labels.dpps_component }} for 15 minutes although dpps-render generated a monitor for it: the monitor is not selected, the pods are gone, or the NetworkPolicy blocks the scrape.", rb(AlertTargetMissing)))
		if series := upSeries[t.Metrics.Exporter]; series != "" {
			dbs = append(dbs, alert(AlertDatabaseDown, series+"{"+sel+"} == 0", "2m", p.compLabels(t.Component, "critical"),
				"{{ $labels.dpps_component }} of {{ $labels.dpps_release }}: the database is down",
				"The "+t.Metrics.Exporter+" sidecar of {{ $labels.dpps_component }} cannot reach its database for 2 minutes ("+series+" is 0): every component that uses it fails.", rb(AlertDatabaseDown)))
		}
	}
	add("dpps-targets", targets)
	add("dpps-databases", dbs)

	// Jobs with a job-success objective, and the last successful backup.
	var jobs []monitoringv1.Rule
	var slos []monitoringv1.RuleGroup
	for _, name := range slices.Sorted(maps.Keys(c.Components)) {
		comp := c.Components[name]
		if !p.Present[name] {
			continue
		}
		for _, sn := range slices.Sorted(maps.Keys(comp.SLOs)) {
			s := comp.SLOs[sn]
			switch s.SLI {
			case catalog.SLIJobSuccess:
				jobs = append(jobs, p.jobRules(name, s, rb)...)
			case catalog.SLIAvailability:
				if g, ok := p.availability(name, sn, s, rb); ok {
					slos = append(slos, g)
				}
			}
		}
	}
	add("dpps-jobs", jobs)
	add("dpps-certificates", p.certificates(rb))
	groups = append(groups, slos...)

	return &monitoringv1.PrometheusRule{
		TypeMeta:   metav1.TypeMeta{APIVersion: monitoringv1.SchemeGroupVersion.String(), Kind: monitoringv1.PrometheusRuleKind},
		ObjectMeta: p.objectMeta(p.Release+"-dpps-alerts", ruleLabels, nil),
		Spec:       monitoringv1.PrometheusRuleSpec{Groups: groups},
	}
}

// upSeries is the series an exporter sets to 0 when it cannot reach its
// database.
var upSeries = map[string]string{"postgres_exporter": "pg_up", "mysqld_exporter": "mysql_up"}

// jobRules: every run of the component's Job succeeds; with maxAge, the
// last success of its CronJob is recent enough.
func (p *Plan) jobRules(comp string, s catalog.SLO, rb func(string) string) []monitoringv1.Rule {
	w := p.workload(comp)
	l := p.compLabels(comp, "warning")
	out := []monitoringv1.Rule{alert(AlertJobFailed,
		"max by (namespace, job_name) (kube_job_failed{"+p.nsSelector()+`condition="true", job_name=~"`+regexQuote(w)+`(-.+)?"}) == 1`, "", l,
		"{{ $labels.job_name }}: the Job of {{ $labels.dpps_component }} failed",
		"The Job {{ $labels.job_name }} ({{ $labels.dpps_component }} of {{ $labels.dpps_release }}) failed: it used up its retries (backoffLimit). Its objective is that every run succeeds.", rb(AlertJobFailed))}
	if s.MaxAge != "" {
		secs := durationSeconds(s.MaxAge)
		out = append(out, alert(AlertBackupTooOld,
			"time() - max by (namespace, cronjob) (kube_cronjob_status_last_successful_time{"+p.nsSelector()+`cronjob="`+w+`"}) > `+strconv.Itoa(secs), "", l,
			"{{ $labels.cronjob }}: the last successful run is older than "+s.MaxAge,
			"The CronJob {{ $labels.cronjob }} ({{ $labels.dpps_component }} of {{ $labels.dpps_release }}) last succeeded {{ $value | humanizeDuration }} ago, more than "+s.MaxAge+" its schedule allows.", rb(AlertBackupTooOld)))
	}
	return out
}

// availability records a component's availability SLI (at least one
// available replica, from kube-state-metrics) over the burn-rate windows
// and alerts on its error budget burning.
func (p *Plan) availability(comp, slo string, s catalog.SLO, rb func(string) string) (monitoringv1.RuleGroup, bool) {
	c := p.info.Catalog.Components[comp]
	var avail string
	switch c.Workload {
	case "Deployment":
		avail = `kube_deployment_status_replicas_available{` + p.nsSelector() + `deployment="` + p.workload(comp) + `"}`
	case "StatefulSet":
		avail = `kube_statefulset_status_replicas_ready{` + p.nsSelector() + `statefulset="` + p.workload(comp) + `"}`
	default:
		return monitoringv1.RuleGroup{}, false
	}
	labels := map[string]string{LabelComponent: comp, LabelSubchart: c.Subchart, LabelRelease: p.Release, LabelSLO: slo}
	sel := p.dppsSelector(comp) + `,` + LabelSLO + `="` + slo + `"`
	// max by (namespace): the recorded series keeps the namespace the
	// selectors below name.
	rules := []monitoringv1.Rule{{Record: sliError, Expr: intstr.FromString("max by (namespace) (" + avail + ") == bool 0"), Labels: labels}}
	for _, w := range sliWindows {
		rules = append(rules, monitoringv1.Rule{Record: sliWindow + w, Expr: intstr.FromString("avg_over_time(" + sliError + "{" + sel + "}[" + w + "])"), Labels: labels})
	}
	budget := strconv.FormatFloat((100-s.Objective)/100, 'f', -1, 64)
	window := s.Window
	if window == "" {
		window = "30d"
	}
	for _, b := range burns {
		var terms []string
		for i, pr := range b.pairs {
			f := b.factors[i]
			terms = append(terms, fmt.Sprintf("(%s%s{%s} > (%s * %s) and %s%s{%s} > (%s * %s))", sliWindow, pr[0], sel, f, budget, sliWindow, pr[1], sel, f, budget))
		}
		l := p.compLabels(comp, b.severity)
		l[LabelSLO] = slo
		what := "fast: at this rate the budget is gone in days"
		if b.alert == AlertBurnSlow {
			what = "slowly: at this rate the budget is gone before the window ends"
		}
		rules = append(rules, alert(b.alert, strings.Join(terms, " or "), "", l,
			"{{ $labels.dpps_component }} of {{ $labels.dpps_release }}: the "+slo+" error budget burns "+strings.SplitN(what, ":", 2)[0],
			fmt.Sprintf("The %s objective of {{ $labels.dpps_component }} (%s%% over %s: at least one available replica) burns its error budget %s.", slo, strconv.FormatFloat(s.Objective, 'f', -1, 64), window, what), rb(b.alert)))
	}
	return monitoringv1.RuleGroup{Name: "dpps-slo-" + comp + "-" + slo, Rules: rules}, true
}

// certificates: the host certificates the catalog declares (shared
// Secrets with an interface) of the interfaces whose providers are in
// this render expire in more than CertificateExpiryDays. Two series can
// tell: x509-certificate-exporter's (it reads the Secrets) and
// cert-manager's (the Certificates are named like their Secrets).
func (p *Plan) certificates(rb func(string) string) []monitoringv1.Rule {
	c := p.info.Catalog
	var names []string
	for _, sn := range slices.Sorted(maps.Keys(c.Shared)) {
		sh := c.Shared[sn]
		if sh.Interface == "" || sh.Kind != "Secret" {
			continue
		}
		if i, ok := c.Interfaces[sh.Interface]; !ok || !p.Present[i.Provider] {
			continue
		}
		names = append(names, regexQuote(strings.ReplaceAll(sh.Name, catalog.ReleaseName, p.Release)))
	}
	if len(names) == 0 {
		return nil
	}
	re := strings.Join(names, "|")
	limit := strconv.Itoa(CertificateExpiryDays * 86400)
	l := map[string]string{"severity": "warning", LabelRelease: p.Release}
	summary := "{{ $labels.secret }}: the host certificate expires in less than " + strconv.Itoa(CertificateExpiryDays) + " days"
	desc := "The host certificate in {{ $labels.secret }} of {{ $labels.dpps_release }} expires in {{ $value | humanizeDuration }}: its service will refuse TLS clients then."
	ns := ""
	if p.Namespace != "" {
		ns = `, namespace="` + p.Namespace + `"`
	}
	x509NS := ""
	if p.Namespace != "" {
		x509NS = `, secret_namespace="` + p.Namespace + `"`
	}
	return []monitoringv1.Rule{
		alert(AlertCertificateExpiring, `label_replace(min by (secret_namespace, secret_name) (x509_cert_not_after{secret_name=~"`+re+`"`+x509NS+`}), "secret", "$1", "secret_name", "(.*)") - time() < `+limit, "1h", l, summary, desc, rb(AlertCertificateExpiring)),
		alert(AlertCertificateExpiring, `label_replace(min by (namespace, name) (certmanager_certificate_expiration_timestamp_seconds{name=~"`+re+`"`+ns+`}), "secret", "$1", "name", "(.*)") - time() < `+limit, "1h", l, summary, desc, rb(AlertCertificateExpiring)),
	}
}

// alert builds one alerting rule. Prometheus expands the annotations with
// the labels of the expression's series only, not the rule's: the
// {{ $labels.dpps_* }} the rule sets itself are written in here.
func alert(name, expr, forDur string, labels map[string]string, summary, description, runbook string) monitoringv1.Rule {
	for _, l := range []string{LabelComponent, LabelSubchart, LabelRelease} {
		if v, ok := labels[l]; ok {
			summary = strings.ReplaceAll(summary, "{{ $labels."+l+" }}", v)
			description = strings.ReplaceAll(description, "{{ $labels."+l+" }}", v)
		}
	}
	r := monitoringv1.Rule{
		Alert:  name,
		Expr:   intstr.FromString(expr),
		Labels: labels,
		Annotations: map[string]string{
			"summary":     summary,
			"description": description,
			"runbook_url": runbook,
		},
	}
	if forDur != "" {
		d := monitoringv1.Duration(forDur)
		r.For = &d
	}
	return r
}

// compLabels are the labels of a component's alert.
func (p *Plan) compLabels(comp, severity string) map[string]string {
	return map[string]string{
		"severity":     severity,
		LabelComponent: comp,
		LabelSubchart:  p.info.Catalog.Components[comp].Subchart,
		LabelRelease:   p.Release,
	}
}

// dppsSelector selects a component's scraped series by their target
// labels.
func (p *Plan) dppsSelector(comp string) string {
	s := LabelRelease + `="` + p.Release + `",` + LabelComponent + `="` + comp + `"`
	if p.Namespace != "" {
		s = `namespace="` + p.Namespace + `",` + s
	}
	return s
}

// nsSelector is `namespace="<ns>", ` when the namespace is known.
func (p *Plan) nsSelector() string {
	if p.Namespace == "" {
		return ""
	}
	return `namespace="` + p.Namespace + `", `
}

// workload is a component's workload name in this release.
func (p *Plan) workload(comp string) string {
	return strings.ReplaceAll(p.info.Catalog.Components[comp].Name, catalog.ReleaseName, p.Release)
}

// regexQuote escapes the RE2 metacharacters a Kubernetes name may hold.
func regexQuote(s string) string { return strings.ReplaceAll(s, ".", `\\.`) }

// durationSeconds converts a catalog duration (26h, 2d, 90m) to seconds.
func durationSeconds(d string) int {
	n, _ := strconv.Atoi(d[:len(d)-1])
	switch d[len(d)-1] {
	case 'd':
		return n * 86400
	case 'h':
		return n * 3600
	}
	return n * 60
}
