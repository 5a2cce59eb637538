package externals

import (
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"
)

// A URL anywhere in a text: scheme, optional user info (a DSN's user and
// password reference), host (or bracketed IPv6), optional port.
var urlRE = regexp.MustCompile(`\b([a-zA-Z][a-zA-Z0-9+.-]*)://(?:[^@/\s"'<>]*@)?(\[[0-9a-fA-F:.]+\]|[^\s:/"'<>?#,;)\]}]+)(?::([0-9]+))?`)

// A whole string that is a host name with at least one dot, optionally
// with a port: "postgres.example.org", "db.example.org:5432". The last
// label must start with a letter, so versions and file names with a
// numeric suffix do not match.
var fqdnRE = regexp.MustCompile(`^([a-z0-9]([-a-z0-9]*[a-z0-9])?\.)+[a-z][-a-z0-9]*[a-z0-9](:[0-9]{1,5})?$`)

// A quoted string in a script or JSON that is a host name with a dot.
var quotedFQDN = regexp.MustCompile(`["']((?:[a-z0-9](?:[-a-z0-9]*[a-z0-9])?\.)+[a-z][-a-z0-9]*[a-z0-9])(?::[0-9]{1,5})?["']`)

// A configuration line whose key says it holds hosts: `Host = h`,
// `host: h`, `"servers": "a, b"`, `CEs = a, b`.
var hostKeyLine = regexp.MustCompile(`(?mi)^\s*"?([A-Za-z_][-A-Za-z0-9_.]*)"?\s*[=:]\s*"?([^"\n]*)"?,?\s*$`)

var hostKeys = regexp.MustCompile(`(?i)(^|[_.-])(host|hosts|hostname|server|servers|endpoint|endpoints|address|addr|ces?|url|uri|proxy)$`)

// fileSuffix is what a file name ends with, never a top-level domain the
// scanner should take for a host.
var fileSuffix = regexp.MustCompile(`\.(pem|crt|key|cfg|conf|json|yaml|yml|sh|py|txt|log|ini|xml|db|sql|so|jar|gz|tar|zip|d)$`)

// Hosts finds the hosts a text names: the host of every URL, and, for an
// environment value (whole = true), the whole value when it is a host
// name; for configuration data, quoted host names and the values of keys
// that name hosts. Results are lower-case, in order of appearance, without
// duplicates.
func Hosts(text string, whole bool) []string {
	var out []string
	seen := map[string]bool{}
	add := func(h string) {
		h = strings.ToLower(strings.Trim(h, "[]"))
		if h == "" || seen[h] || strings.Contains(h, "$") || strings.Contains(h, "{") {
			return
		}
		seen[h] = true
		out = append(out, h)
	}
	for _, m := range urlRE.FindAllStringSubmatch(text, -1) {
		add(m[2])
	}
	if whole {
		if v := strings.TrimSpace(text); fqdnRE.MatchString(v) && !fileSuffix.MatchString(v) {
			add(stripPort(v))
		}
		return out
	}
	for _, m := range quotedFQDN.FindAllStringSubmatch(text, -1) {
		if !fileSuffix.MatchString(m[1]) {
			add(m[1])
		}
	}
	for _, m := range hostKeyLine.FindAllStringSubmatch(text, -1) {
		if !hostKeys.MatchString(m[1]) {
			continue
		}
		for _, tok := range strings.FieldsFunc(m[2], func(r rune) bool { return r == ',' || r == ' ' || r == '\t' }) {
			if strings.Contains(tok, "://") {
				continue // found above
			}
			if tok = strings.ToLower(tok); fqdnRE.MatchString(tok) && !fileSuffix.MatchString(tok) {
				add(stripPort(tok))
			}
		}
	}
	return out
}

func stripPort(h string) string {
	if i := strings.LastIndexByte(h, ':'); i > 0 && !strings.Contains(h[:i], ":") {
		return h[:i]
	}
	return h
}

// ClusterLocal reports whether a host resolves inside the cluster only: a
// single label (a Service of the namespace), a name under .svc or
// .cluster.local, localhost, or a loopback or unspecified address.
func ClusterLocal(h string) bool {
	h = strings.TrimSuffix(strings.ToLower(h), ".")
	if !strings.Contains(h, ".") && net.ParseIP(h) == nil {
		return true
	}
	if strings.HasSuffix(h, ".svc") || strings.HasSuffix(h, ".cluster.local") || strings.Contains(h, ".svc.") {
		return true
	}
	if h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return true
	}
	if ip := net.ParseIP(h); ip != nil {
		return ip.IsLoopback() || ip.IsUnspecified()
	}
	return false
}

// ValidHost reports whether h is a DNS name (RFC 1123 labels, 253
// characters at most) or an IP address.
func ValidHost(h string) bool {
	if net.ParseIP(strings.Trim(h, "[]")) != nil {
		return true
	}
	h = strings.TrimSuffix(h, ".")
	if h == "" || len(h) > 253 {
		return false
	}
	for _, l := range strings.Split(h, ".") {
		if len(l) == 0 || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for _, r := range l {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
				return false
			}
		}
	}
	return true
}

// CheckURL says what is wrong with an endpoint URL, or "".
func CheckURL(s string) string {
	if strings.ContainsAny(s, " \t\n") {
		return "contains white space"
	}
	u, err := url.Parse(s)
	if err != nil {
		return err.Error()
	}
	if u.Scheme == "" || u.Host == "" {
		return "not an absolute URL (scheme://host)"
	}
	if !ValidHost(u.Hostname()) {
		return "invalid host " + strconv.Quote(u.Hostname())
	}
	if p := u.Port(); p != "" {
		if msg := checkPort(p); msg != "" {
			return msg
		}
	}
	return ""
}

// CheckHostPort says what is wrong with "host[:port][/path]" (a registry
// host), or "".
func CheckHostPort(s string) string {
	host := s
	if i := strings.IndexByte(host, '/'); i >= 0 {
		host = host[:i]
	}
	if h, p, err := net.SplitHostPort(host); err == nil {
		if msg := checkPort(p); msg != "" {
			return msg
		}
		host = h
	}
	if !ValidHost(host) {
		return "invalid host " + strconv.Quote(host)
	}
	return ""
}

func checkPort(p string) string {
	n, err := strconv.Atoi(p)
	if err != nil || n < 1 || n > 65535 {
		return "invalid port " + strconv.Quote(p)
	}
	return ""
}

// hostOf is the host of an endpoint string: a URL's host, or the host of
// "host[:port][/path]".
func hostOf(s string) string {
	if strings.Contains(s, "://") {
		if u, err := url.Parse(s); err == nil {
			return strings.ToLower(u.Hostname())
		}
		return ""
	}
	if i := strings.IndexByte(s, '/'); i >= 0 {
		s = s[:i]
	}
	if h, _, err := net.SplitHostPort(s); err == nil {
		s = h
	}
	return strings.ToLower(s)
}
