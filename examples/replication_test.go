package examples

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ctao/dpps-deploy/internal/testutil"
)

// rucioDBEnv renders the chart with the values files and returns the env
// of rucio-db's postgresql container: literal values as they are, Secret
// references as "secret:<name>/<key>".
func rucioDBEnv(t *testing.T, helm string, values ...string) map[string]string {
	t.Helper()
	args := []string{"template", release, chart, "--skip-tests"}
	for _, v := range values {
		args = append(args, "-f", v)
	}
	for _, o := range parse(t, run(t, helm, args...)) {
		if o.kind != "StatefulSet" || str(dig(o.m, "spec", "template", "metadata", "labels", "app.kubernetes.io/component")) != "rucio-db" {
			continue
		}
		for _, c := range list(dig(o.m, "spec", "template", "spec", "containers")) {
			if str(dig(c, "name")) != "postgresql" {
				continue
			}
			env := map[string]string{}
			for _, e := range list(dig(c, "env")) {
				if ref := dig(e, "valueFrom", "secretKeyRef"); ref != nil {
					env[str(dig(e, "name"))] = "secret:" + str(dig(ref, "name")) + "/" + str(dig(ref, "key"))
				} else {
					env[str(dig(e, "name"))] = fmt.Sprint(dig(e, "value"))
				}
			}
			return env
		}
	}
	t.Fatalf("no rucio-db StatefulSet in the render of %v", values)
	return nil
}

// pgServer is one PostgreSQL server of Debian's package on loopback,
// run as the postgres user when the test runs as root (the server refuses
// root).
type pgServer struct {
	t         *testing.T
	bin, data string
	port      int
	cred      *syscall.Credential
	log       *bytes.Buffer
	proc      *exec.Cmd
}

func (s *pgServer) cmd(env []string, name string, args ...string) *exec.Cmd {
	c := exec.Command(filepath.Join(s.bin, name), args...)
	c.Env = append(os.Environ(), env...)
	if s.cred != nil {
		c.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
	}
	return c
}

func (s *pgServer) must(env []string, name string, args ...string) string {
	s.t.Helper()
	out, err := s.cmd(env, name, args...).CombinedOutput()
	if err != nil {
		s.t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

func (s *pgServer) start() {
	s.t.Helper()
	s.log = &bytes.Buffer{}
	s.proc = s.cmd(nil, "postgres", "-D", s.data)
	s.proc.Stdout, s.proc.Stderr = s.log, s.log
	if err := s.proc.Start(); err != nil {
		s.t.Fatal(err)
	}
	for i := 0; ; i++ {
		if s.cmd(nil, "pg_isready", "-q", "-h", "127.0.0.1", "-p", strconv.Itoa(s.port)).Run() == nil {
			return
		}
		if i > 100 {
			s.t.Fatalf("postgres on port %d not ready:\n%s", s.port, s.log)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (s *pgServer) stop() {
	if s.proc == nil {
		return
	}
	_ = s.proc.Process.Signal(syscall.SIGINT) // fast shutdown
	_ = s.proc.Wait()
	s.proc = nil
}

// sql runs statements as user with password over TCP and returns the
// output; fail says whether an error is expected.
func (s *pgServer) sql(user, password, db, stmt string) (string, error) {
	c := s.cmd([]string{"PGPASSWORD=" + password}, "psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1",
		"-h", "127.0.0.1", "-p", strconv.Itoa(s.port), "-U", user, "-d", db, "-c", stmt)
	out, err := c.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// TestReplicationWithPostgreSQL: the streaming replication the chart
// renders for the two staging sites of examples/staging/failover-*.yaml,
// run on two real PostgreSQL servers (Debian's package, DPPS_PG_BIN) on
// loopback. The settings are read from the rendered rucio-db containers
// (mode, replication user, the primary's host and port, application
// name) and applied as the Bitnami image's libpostgresql.sh applies them
// on a first start: the primary gets replication parameters, the role and
// `host replication all ... md5`; the replica is cloned with pg_basebackup
// and streams with primary_conninfo and standby.signal. The declared host
// of the primary stands for 127.0.0.1 and its port for a free one. A row
// written on the primary is read on the replica, the replica refuses
// writes, and the replica restarted without standby.signal (as the image
// does when the topology makes it the primary) takes writes.
func TestReplicationWithPostgreSQL(t *testing.T) {
	bin := testutil.Tool(t, "DPPS_PG_BIN")
	helm, _ := tools(t)
	start := time.Now()
	a := rucioDBEnv(t, helm, "staging/values.yaml", "staging/failover-a.yaml")
	b := rucioDBEnv(t, helm, "staging/values.yaml", "staging/failover-b.yaml")
	for _, c := range []struct{ got, want string }{
		{a["POSTGRESQL_REPLICATION_MODE"], "master"},
		{b["POSTGRESQL_REPLICATION_MODE"], "slave"},
		{b["POSTGRESQL_MASTER_HOST"], "rucio-db.staging-a.example.org"},
		{b["POSTGRESQL_MASTER_PORT_NUMBER"], "5432"},
		{a["POSTGRESQL_REPLICATION_USER"], b["POSTGRESQL_REPLICATION_USER"]},
		{a["POSTGRESQL_REPLICATION_PASSWORD"], "secret:dpps-rucio-db/replication-password"},
		{b["POSTGRESQL_REPLICATION_PASSWORD"], "secret:dpps-rucio-db/replication-password"},
		{b["POSTGRESQL_CLUSTER_APP_NAME"], "staging-b"},
	} {
		if c.got != c.want {
			t.Fatalf("rendered rucio-db env: got %q, want %q (primary %v, replica %v)", c.got, c.want, a, b)
		}
	}
	replUser, appName := b["POSTGRESQL_REPLICATION_USER"], b["POSTGRESQL_CLUSTER_APP_NAME"]
	dbUser, database := a["POSTGRES_USER"], a["POSTGRES_DATABASE"]
	const replPassword, password = "test-replication-4f1e", "test-rucio-9c2d"

	t.Logf("%s: rendered", time.Since(start).Round(time.Millisecond))
	var cred *syscall.Credential
	// Not t.TempDir(): its parent is private to root, and the server runs
	// as postgres.
	root, err := os.MkdirTemp("", "dpps-replication-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Fatalf("running as root, PostgreSQL needs another user: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(root, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	mkdir := func(name string) string {
		d := filepath.Join(root, name)
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
		if cred != nil {
			if err := os.Chown(d, int(cred.Uid), int(cred.Gid)); err != nil {
				t.Fatal(err)
			}
		}
		return d
	}
	write := func(path, text string, perm os.FileMode) {
		if err := os.WriteFile(path, []byte(text), perm); err != nil {
			t.Fatal(err)
		}
		if cred != nil {
			if err := os.Chown(path, int(cred.Uid), int(cred.Gid)); err != nil {
				t.Fatal(err)
			}
		}
	}
	sock := mkdir("sock")
	conf := func(port int, extra string) string {
		// libpostgresql.sh's replication parameters, on both sides.
		return fmt.Sprintf("listen_addresses = '127.0.0.1'\nport = %d\nunix_socket_directories = '%s'\n"+
			"wal_level = 'replica'\nmax_wal_size = '400MB'\nmax_wal_senders = '16'\nwal_keep_size = '128MB'\nhot_standby = 'on'\n%s",
			port, sock, extra)
	}

	// The primary: first start of POSTGRESQL_REPLICATION_MODE=master.
	p := &pgServer{t: t, bin: bin, data: mkdir("primary"), port: freePort(t), cred: cred}
	p.must(nil, "initdb", "-D", p.data, "-U", "postgres", "-E", "UTF8", "--auth=trust", "--no-sync")
	write(filepath.Join(p.data, "postgresql.conf"), conf(p.port, ""), 0o600)
	t.Cleanup(p.stop)
	p.start()
	for _, stmt := range []string{
		fmt.Sprintf(`CREATE ROLE "%s" WITH LOGIN CREATEDB PASSWORD '%s'`, dbUser, password),
		fmt.Sprintf(`CREATE DATABASE "%s" OWNER "%s"`, database, dbUser),
		fmt.Sprintf(`CREATE ROLE "%s" REPLICATION LOGIN ENCRYPTED PASSWORD '%s'`, replUser, replPassword),
	} {
		p.must(nil, "psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", sock, "-p", strconv.Itoa(p.port), "-U", "postgres", "-d", "postgres", "-c", stmt)
	}
	// pg_hba after postgresql_restrict_pghba and postgresql_add_replication_to_pghba.
	write(filepath.Join(p.data, "pg_hba.conf"), "local all all trust\n"+
		"host all all 0.0.0.0/0 md5\nhost all all ::/0 md5\n"+
		"host replication all 0.0.0.0/0 md5\nhost replication all ::/0 md5\n", 0o600)
	p.must(nil, "pg_ctl", "-D", p.data, "reload", "-s")

	// The replica: first start of POSTGRESQL_REPLICATION_MODE=slave, with
	// POSTGRESQL_MASTER_HOST and _PORT_NUMBER mapped to the primary here.
	masterHost, masterPort := "127.0.0.1", strconv.Itoa(p.port)
	r := &pgServer{t: t, bin: bin, data: mkdir("replica"), port: freePort(t), cred: cred}
	// The image's pg_basebackup arguments, plus --checkpoint=fast: the
	// image waits for the primary's next spread checkpoint, minutes.
	r.must([]string{"PGPASSWORD=" + replPassword}, "pg_basebackup", "-D", r.data, "-U", replUser, "-h", masterHost, "-p", masterPort, "-X", "stream", "-w", "--checkpoint=fast")
	write(filepath.Join(r.data, "postgresql.conf"), conf(r.port, fmt.Sprintf(
		"primary_conninfo = 'host=%s port=%s user=%s password=%s application_name=%s'\n", masterHost, masterPort, replUser, replPassword, appName)), 0o600)
	write(filepath.Join(r.data, "standby.signal"), "", 0o600)
	t.Cleanup(r.stop)
	r.start()

	// Rucio writes on the primary; the row reaches the replica.
	if out, err := p.sql(dbUser, password, database, "CREATE TABLE replicated (name text); INSERT INTO replicated VALUES ('written at staging-a')"); err != nil {
		t.Fatalf("write on the primary: %v\n%s", err, out)
	}
	var got string
	for i := 0; ; i++ {
		got, _ = r.sql(dbUser, password, database, "SELECT name FROM replicated")
		if got == "written at staging-a" {
			break
		}
		if i > 150 {
			t.Fatalf("the replica never showed the primary's row (last answer %q)\nreplica log:\n%s", got, r.log)
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("%s: the replica reads the primary's row", time.Since(start).Round(time.Millisecond))
	if out := strings.TrimSpace(p.must(nil, "psql", "-X", "-q", "-At", "-h", sock, "-p", strconv.Itoa(p.port), "-U", "postgres", "-d", "postgres",
		"-c", "SELECT application_name || ' ' || state FROM pg_stat_replication")); out != appName+" streaming" {
		t.Errorf("pg_stat_replication on the primary: %q, want %q", out, appName+" streaming")
	}
	out, err := r.sql(dbUser, password, database, "INSERT INTO replicated VALUES ('written at staging-b')")
	if err == nil || !strings.Contains(out, "read-only transaction") {
		t.Errorf("a write on the replica: %v %q, want it refused as read-only", err, out)
	}

	// Promotion as the image performs it: the primary stopped, the replica
	// restarted without standby.signal (POSTGRESQL_REPLICATION_MODE=master).
	p.stop()
	r.stop()
	if err := os.Remove(filepath.Join(r.data, "standby.signal")); err != nil {
		t.Fatal(err)
	}
	r.start()
	if out, err := r.sql(dbUser, password, database, "INSERT INTO replicated VALUES ('written at staging-b'); SELECT count(*) FROM replicated"); err != nil || out != "2" {
		t.Errorf("a write on the promoted replica: %v %q, want 2 rows\n%s", err, out, r.log)
	}
}
