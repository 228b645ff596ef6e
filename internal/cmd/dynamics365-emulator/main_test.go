package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/d365-audit/terraform-provider-dynamics365/internal/acctest"
	"github.com/d365-audit/terraform-provider-dynamics365/internal/emulator"
)

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

func TestSimulateSubcommand(t *testing.T) {
	srv := acctest.StartEmulator(t, emulator.Options{ControlKey: "control-key"})
	srv.UpdateOrganization(func(o *emulator.Organization) {
		o.IsAuditEnabled, o.IsReadAuditEnabled, o.IsUserAccessAuditEnabled = true, true, true
	})
	envFile := filepath.Join(t.TempDir(), "demo.env")
	if err := writeFileAtomic(envFile, []byte(exportLines(srv, "client", "it's secret", "control-key"))); err != nil {
		t.Fatal(err)
	}
	env, err := readEnvFile(envFile)
	if err != nil || env["AZURE_CLIENT_SECRET"] != "it's secret" || env[controlKeyVar] != "control-key" || env["DYNAMICS365_GRAPH_URL"] != srv.GraphURL() {
		t.Fatalf("readEnvFile: %v %v", env, err)
	}
	before := len(srv.AuditRecords())
	var out, errOut bytes.Buffer
	if err := run([]string{"simulate", "-env-file", envFile, "-actions", "40", "-seed", "9"}, &out, &errOut); err != nil {
		t.Fatalf("%v: %s", err, errOut.String())
	}
	if !strings.HasPrefix(out.String(), "simulated 40 actions: ") || len(srv.AuditRecords()) == before ||
		!strings.Contains(out.String(), " reads, ") || len(srv.UnifiedAuditRecords()) == 0 {
		t.Errorf("output %q, rows %d -> %d", out.String(), before, len(srv.AuditRecords()))
	}
	if err := run([]string{"simulate", "-env-file", envFile}, &out, &errOut); err == nil {
		t.Error("no -actions: no error")
	}
	// A wrong key is refused.
	bad := filepath.Join(t.TempDir(), "bad.env")
	if err := writeFileAtomic(bad, []byte(exportLines(srv, "client", "s", "wrong"))); err != nil {
		t.Fatal(err)
	}
	if err := run([]string{"simulate", "-env-file", bad, "-actions", "1"}, &out, &errOut); err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("wrong key: %v", err)
	}
}

func TestShellUnquote(t *testing.T) {
	for _, s := range []string{"plain", "it's", "", `a'b'\''c`} {
		if got := shellUnquote(shellQuote(s)); got != s {
			t.Errorf("%q -> %q", s, got)
		}
	}
}

func TestGraphFlagValidation(t *testing.T) {
	var out, errOut bytes.Buffer
	for _, args := range [][]string{{"-graph-page-size", "0"}, {"-graph-query-delay", "-1s"}, {"-fault-rate", "2"}, {"-max-concurrent-per-user", "-1"}, {"-limit-window", "0s"}} {
		if err := run(args, &out, &errOut); err == nil || !strings.Contains(err.Error(), args[0]) {
			t.Errorf("%v: %v", args, err)
		}
	}
}
