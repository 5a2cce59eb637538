package examples

import (
	"bytes"
	"os/exec"
	"strings"
	"testing"
)

// A site that writes its database password into bdms.config, with a
// backend that does not put the value in a Secret of the release (the
// site's own Secrets, its secret store), must not get it installed in the
// Rucio ConfigMap: dpps-render refuses the render, without the catalog's
// help, in one line that never shows the value.
func TestSiteDSNInConfigIsRefused(t *testing.T) {
	helm, render := tools(t)
	const password = "Prod-Site-Db-6147"
	for _, backend := range []string{"existing", "external-secrets"} {
		t.Run(backend, func(t *testing.T) {
			args := renderArgs("prod-site", render,
				"--set", "global.secrets.backend="+backend,
				"--set", "bdms.config.database.default=postgresql://rucio:"+password+"@db.site-a.example.org:5432/rucio")
			var stdout, stderr bytes.Buffer
			cmd := exec.Command(helm, args...)
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Run(); err == nil {
				t.Fatalf("rendered; the password is in the output: %v", strings.Contains(stdout.String(), password))
			}
			msg := stderr.String()
			if strings.Contains(msg, password) {
				t.Error("the error shows the password")
			}
			want := "ConfigMap dpps-rucio-config (dpps/charts/bdms/templates/config.yaml): data.10_common.json holds a password in URL userinfo (JSON field database.default) outside a Secret"
			if !strings.Contains(msg, want) {
				t.Errorf("helm template with --set bdms.config.database.default:\n%s\nwant %q", msg, want)
			}
		})
	}
}
