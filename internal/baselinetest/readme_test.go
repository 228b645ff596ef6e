package baselinetest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The example's README.md is the user's recipe: TestBaselineTwoTenants runs
// the terraform commands of its marked blocks, so the documented commands
// are the tested ones. A block is the first fenced block after a line
// starting with "<!-- baselinetest:<name>".
const (
	moduleBlock    = "module"    // the module's tests, from the example's directory
	rootBlock      = "root"      // terraform get and the root configuration's test
	emulatorsBlock = "emulators" // starts the two emulators that write the tfvars files
)

// readmeBlock returns the lines of the README block called name, without
// blank lines and shell comments.
func readmeBlock(t *testing.T, name string) []string {
	t.Helper()
	readme, err := os.ReadFile(filepath.Join(exampleDir(t), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	marker := "<!-- baselinetest:" + name
	var lines []string
	found, inBlock := false, false
	for _, line := range strings.Split(string(readme), "\n") {
		line = strings.TrimSpace(line)
		switch {
		case !found:
			found = strings.HasPrefix(line, marker+":") || strings.HasPrefix(line, marker+" ")
		case !inBlock:
			inBlock = strings.HasPrefix(line, "```")
		case strings.HasPrefix(line, "```"):
			if len(lines) == 0 {
				t.Fatalf("README.md: block %q is empty", name)
			}
			return lines
		case line != "" && !strings.HasPrefix(line, "#"):
			lines = append(lines, line)
		}
	}
	t.Fatalf("README.md has no complete fenced block after %q", marker)
	return nil
}

// readmeTerraformCommands returns the argument lists of the terraform
// commands of the README block called name. Every line must be a plain
// terraform command: no shell syntax the test would have to interpret.
func readmeTerraformCommands(t *testing.T, name string) [][]string {
	t.Helper()
	var cmds [][]string
	for _, line := range readmeBlock(t, name) {
		fields := strings.Fields(line)
		if fields[0] != "terraform" || len(fields) < 2 {
			t.Fatalf("README.md block %q: %q is not a terraform command", name, line)
		}
		if strings.ContainsAny(line, "$\"'`|&;<>\\*?(){}") {
			t.Fatalf("README.md block %q: %q uses shell syntax; the test runs the words as they are", name, line)
		}
		cmds = append(cmds, fields[1:])
	}
	return cmds
}

// tfvarsFile is the file, in the example's directory, that holds a tenant's
// variables: the emulator's -tfvars-file in the README writes it and the
// README's commands read it with -var-file.
func tfvarsFile(tenantName string) string { return tenantName + ".tfvars" }

// TestREADMEMatchesTheTest checks, without terraform, what the acceptance
// test relies on: the README's emulators write the tfvars files the test
// writes (tenant A with the null retention the module's first run expects),
// and its test commands read both.
func TestREADMEMatchesTheTest(t *testing.T) {
	emulators := strings.Join(readmeBlock(t, emulatorsBlock), "\n")
	for _, name := range []string{"tenant_a", "tenant_b"} {
		line := ""
		for _, l := range strings.Split(emulators, "\n") {
			if strings.Contains(l, "-tfvars-file "+tfvarsFile(name)+" ") {
				line = l
			}
		}
		if line == "" {
			t.Errorf("README.md: no emulator writes -tfvars-file %s", tfvarsFile(name))
			continue
		}
		if !strings.Contains(line, "-tfvars-prefix "+name) {
			t.Errorf("README.md: the emulator writing %s does not name its variables %s_…: %s", tfvarsFile(name), name, line)
		}
		if got := strings.Contains(line, "-null-retention"); got != (name == "tenant_a") {
			t.Errorf("README.md: -null-retention on %s's emulator is %v; only tenant A starts without a retention", name, got)
		}
	}
	for _, block := range []string{moduleBlock, rootBlock} {
		var tests int
		for _, args := range readmeTerraformCommands(t, block) {
			if !isTestCommand(args) {
				continue
			}
			tests++
			joined := strings.Join(args, " ")
			for _, name := range []string{"tenant_a", "tenant_b"} {
				if !strings.Contains(joined, tfvarsFile(name)) {
					t.Errorf("README.md block %q: %q does not read %s", block, joined, tfvarsFile(name))
				}
			}
		}
		if tests != 1 {
			t.Errorf("README.md block %q has %d terraform test commands, want 1", block, tests)
		}
	}
}

// isTestCommand reports whether terraform's arguments run `terraform test`
// (after global options such as -chdir).
func isTestCommand(args []string) bool {
	for _, a := range args {
		if !strings.HasPrefix(a, "-") {
			return a == "test"
		}
	}
	return false
}
