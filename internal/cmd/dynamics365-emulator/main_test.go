package main

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/d365-audit/terraform-provider-dynamics365/internal/acctest"
	"github.com/d365-audit/terraform-provider-dynamics365/internal/emulator"
)

// runMainEnv makes the test binary run main() with its arguments, so tests
// can check exit codes and signals of the real command without building it.
const runMainEnv = "DYNAMICS365_EMULATOR_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(runMainEnv) == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

// command is the emulator command (this test binary running main).
func command(args ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), runMainEnv+"=1")
	return cmd
}

func exitStatus(t *testing.T, err error) int {
	t.Helper()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &exit):
		return exit.ExitCode()
	}
	t.Fatal(err)
	return -1
}

func TestHelpExitsZero(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args   []string
		status int
		output string
	}{
		{[]string{"-h"}, 0, "-tfvars-file"},
		{[]string{"-help"}, 0, "-fault-kinds"},
		{[]string{"set", "-h"}, 0, "column TABLE.NAME"},
		{[]string{"simulate", "-h"}, 0, "-actions"},
		{[]string{"-no-such-flag"}, 2, "flag provided but not defined"},
		{[]string{"set", "-env-file", "x"}, 1, "set needs a target"},
		{[]string{"-fault-kinds", "reset,explode"}, 1, `unknown kind "explode"`},
	} {
		var stderr bytes.Buffer
		cmd := command(tc.args...)
		cmd.Stderr = &stderr
		if got := exitStatus(t, cmd.Run()); got != tc.status || !strings.Contains(stderr.String(), tc.output) {
			t.Errorf("%v: exit %d, want %d; stderr %q, want %q", tc.args, got, tc.status, stderr.String(), tc.output)
		}
	}
}

// writeStale leaves files as a killed earlier run would.
func writeStale(t *testing.T, paths ...string) {
	t.Helper()
	for _, p := range paths {
		if err := os.WriteFile(p, []byte("export DYNAMICS365_ENVIRONMENT_URL='https://stale.invalid'\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

func assertGone(t *testing.T, paths ...string) {
	t.Helper()
	for _, p := range paths {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s still exists (%v)", filepath.Base(p), err)
		}
	}
}

// TestStaleFilesRemovedWhenStartFails: a stale env file does not survive a
// run that never gets ready (here: its port is taken).
func TestStaleFilesRemovedWhenStartFails(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ln.Close() }()
	dir := t.TempDir()
	envFile, tfvars := filepath.Join(dir, "d365.env"), filepath.Join(dir, "d365.tfvars")
	writeStale(t, envFile, tfvars)
	var stderr bytes.Buffer
	cmd := command("-env-file", envFile, "-tfvars-file", tfvars, "-environment-port", strconv.Itoa(ln.Addr().(*net.TCPAddr).Port))
	cmd.Stderr = &stderr
	if got := exitStatus(t, cmd.Run()); got != 1 || !strings.Contains(stderr.String(), "listen on 127.0.0.1 port") {
		t.Errorf("exit %d, stderr %q", got, stderr.String())
	}
	assertGone(t, envFile, tfvars)
}

// waitForEnvFile waits until path holds a running emulator's lines.
func waitForEnvFile(t *testing.T, path string) map[string]string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if env, err := readEnvFile(path); err == nil && env[controlKeyVar] != "" {
			return env
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s was not written", path)
	return nil
}

// TestEnvFileLifecycle runs the command as a process: the stale env file
// is replaced once the server is up, and both files are removed at SIGTERM.
func TestEnvFileLifecycle(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	envFile, tfvars := filepath.Join(dir, "d365.env"), filepath.Join(dir, "d365.tfvars")
	writeStale(t, envFile, tfvars)
	var stdout, stderr bytes.Buffer
	cmd := command("-env-file", envFile, "-tfvars-file", tfvars)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	env := waitForEnvFile(t, envFile)
	if env["DYNAMICS365_ENVIRONMENT_URL"] == "https://stale.invalid" || !strings.HasPrefix(env["DYNAMICS365_ENVIRONMENT_URL"], "https://127.0.0.1:") {
		t.Errorf("env file = %v", env)
	}
	if b, err := os.ReadFile(tfvars); err != nil || !strings.Contains(string(b), `environment_url = "`+env["DYNAMICS365_ENVIRONMENT_URL"]+`"`) {
		t.Errorf("tfvars %q %v", b, err)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if got := exitStatus(t, err); got != 0 {
			t.Errorf("exit %d after SIGTERM: %s", got, stderr.String())
		}
	case <-time.After(20 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("no exit after SIGTERM")
	}
	assertGone(t, envFile, tfvars, env["DYNAMICS365_CA_CERTIFICATE_FILE"])
	if !strings.Contains(stdout.String(), "export AZURE_CLIENT_SECRET=") {
		t.Errorf("stdout = %q", stdout.String())
	}
}

// startInProcess runs the server in this process until the test ends and
// returns it once its env file is written.
func startInProcess(t *testing.T, args ...string) (*emulator.Server, map[string]string) {
	t.Helper()
	envFile := filepath.Join(t.TempDir(), "d365.env")
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan *emulator.Server, 1)
	done := make(chan error, 1)
	var stdout, stderr bytes.Buffer
	go func() {
		done <- runServer(ctx, append([]string{"-env-file", envFile}, args...), &stdout, &stderr, func(s *emulator.Server) { ready <- s })
	}()
	var srv *emulator.Server
	select {
	case srv = <-ready:
	case err := <-done:
		cancel()
		t.Fatalf("server stopped: %v", err)
	case <-time.After(20 * time.Second):
		cancel()
		t.Fatal("server not ready")
	}
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
		assertGone(t, envFile)
	})
	env, err := readEnvFile(envFile)
	if err != nil {
		t.Fatal(err)
	}
	env["ENV_FILE"] = envFile
	return srv, env
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ln.Close() }()
	return ln.Addr().(*net.TCPAddr).Port
}

func TestListenerPortFlags(t *testing.T) {
	t.Parallel()
	login, env, graph := freePort(t), freePort(t), freePort(t)
	_, vars := startInProcess(t, "-login-port", strconv.Itoa(login), "-environment-port", strconv.Itoa(env), "-graph-port", strconv.Itoa(graph))
	if vars["AZURE_AUTHORITY_HOST"] != "https://127.0.0.1:"+strconv.Itoa(login)+"/" ||
		vars["DYNAMICS365_ENVIRONMENT_URL"] != "https://127.0.0.1:"+strconv.Itoa(env) ||
		vars["DYNAMICS365_GRAPH_URL"] != "https://127.0.0.1:"+strconv.Itoa(graph) {
		t.Errorf("env = %v", vars)
	}
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"-graph-port", "70000"}, &out, &errOut); err == nil || !strings.Contains(err.Error(), "-graph-port") {
		t.Errorf("port 70000: %v", err)
	}
}

func TestNonZero(t *testing.T) {
	if nonZero(0) >= 0 || nonZero(time.Second) != time.Second {
		t.Error("nonZero")
	}
	if noLimit(0) >= 0 || noLimit(52) != 52 {
		t.Error("noLimit")
	}
}

func TestShellQuote(t *testing.T) {
	for in, want := range map[string]string{
		"plain":     "'plain'",
		"it's":      `'it'\''s'`,
		"$HOME `x`": "'$HOME `x`'",
		"":          "''",
	} {
		if got := shellQuote(in); got != want {
			t.Errorf("shellQuote(%q) = %s, want %s", in, got, want)
		}
	}
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no sh")
	}
	out, err := exec.Command("sh", "-c", "eval \"X=$0\"; printf %s \"$X\"", shellQuote(`a'b $c "d"`)).Output()
	if err != nil || string(out) != `a'b $c "d"` {
		t.Errorf("round trip through sh: %q %v", out, err)
	}
}

func TestShellUnquote(t *testing.T) {
	for _, s := range []string{"plain", "it's", "", `a'b'\''c`} {
		if got := shellUnquote(shellQuote(s)); got != s {
			t.Errorf("%q -> %q", s, got)
		}
	}
}

func TestWriteFileAtomic(t *testing.T) {
	path := filepath.Join(t.TempDir(), "demo.env")
	if err := writeFileAtomic(path, []byte("export A='1'\n")); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil || string(b) != "export A='1'\n" {
		t.Fatalf("%q %v", b, err)
	}
	fi, _ := os.Stat(path)
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode = %v", fi.Mode())
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("leftover files: %v", entries)
	}
}

// controlEnvFile writes an env file for srv, as the server would.
func controlEnvFile(t *testing.T, srv *emulator.Server, secret, key string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "demo.env")
	conn := connection{srv: srv, clientID: "client", clientSecret: secret, controlKey: key}
	if err := writeFileAtomic(path, []byte(conn.exportLines())); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestSimulateSubcommand(t *testing.T) {
	srv := acctest.StartEmulator(t, emulator.Options{ControlKey: "control-key"})
	srv.UpdateOrganization(func(o *emulator.Organization) {
		o.IsAuditEnabled, o.IsReadAuditEnabled, o.IsUserAccessAuditEnabled = true, true, true
	})
	envFile := controlEnvFile(t, srv, "it's secret", "control-key")
	env, err := readEnvFile(envFile)
	if err != nil || env["AZURE_CLIENT_SECRET"] != "it's secret" || env[controlKeyVar] != "control-key" || env["DYNAMICS365_GRAPH_URL"] != srv.GraphURL() {
		t.Fatalf("readEnvFile: %v %v", env, err)
	}
	before := len(srv.AuditRecords())
	var out, errOut bytes.Buffer
	ctx := context.Background()
	if err := run(ctx, []string{"simulate", "-env-file", envFile, "-actions", "40", "-seed", "9"}, &out, &errOut); err != nil {
		t.Fatalf("%v: %s", err, errOut.String())
	}
	if !strings.HasPrefix(out.String(), "simulated 40 actions: ") || len(srv.AuditRecords()) == before ||
		!strings.Contains(out.String(), " reads, ") || len(srv.UnifiedAuditRecords()) == 0 {
		t.Errorf("output %q, rows %d -> %d", out.String(), before, len(srv.AuditRecords()))
	}
	if err := run(ctx, []string{"simulate", "-env-file", envFile}, &out, &errOut); err == nil {
		t.Error("no -actions: no error")
	}
	// A wrong key is refused.
	bad := controlEnvFile(t, srv, "s", "wrong")
	if err := run(ctx, []string{"simulate", "-env-file", bad, "-actions", "1"}, &out, &errOut); err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("wrong key: %v", err)
	}
}

func TestGraphFlagValidation(t *testing.T) {
	var out, errOut bytes.Buffer
	for _, args := range [][]string{
		{"-graph-page-size", "0"}, {"-graph-query-delay", "-1s"}, {"-fault-rate", "2"}, {"-max-concurrent-per-user", "-1"},
		{"-limit-window", "0s"}, {"-fault-hang", "0s"}, {"-fault-kinds", "status,boom"}, {"-tfvars-prefix", "tenant a"},
		{"-federated-issuer", "https://issuer.example"}, {"-metadata-read-cost-per-table", "-1ms"}, {"-metadata-read-cost-per-column", "-1ms"},
	} {
		if err := run(context.Background(), args, &out, &errOut); err == nil || !strings.Contains(err.Error(), args[0]) {
			t.Errorf("%v: %v", args, err)
		}
	}
}
