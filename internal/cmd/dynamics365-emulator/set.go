package main

import (
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/d365-audit/terraform-provider-dynamics365/internal/emulator"
)

const setUsage = `usage: dynamics365-emulator set -env-file PATH [-publish] TARGET name=value...

Changes audit settings of a running emulator behind Terraform's back, as an
administrator in the admin center or maker portal would (audit rows name the
emulator's administrator), for drift demos and tests. TARGET is one of

  org                 audit_enabled, read_audit_enabled, user_access_audit_enabled,
                      retention_period_days (-1, 1..365000 or null), user_access_audit_interval_hours
  table NAME          audit_enabled, retrieve_audit_enabled, retrieve_multiple_audit_enabled,
                      can_be_changed (false locks the table's audit setting)
  column TABLE.NAME   audit_enabled, can_be_changed

Table and column changes are saved but not published unless -publish is
given (then the table is published: "set table NAME -publish" alone
publishes what is saved). Organization settings take effect when written.

Examples:
  dynamics365-emulator set -env-file /tmp/d365.env org audit_enabled=false
  dynamics365-emulator set -env-file /tmp/d365.env table account audit_enabled=true retrieve_audit_enabled=true -publish
  dynamics365-emulator set -env-file /tmp/d365.env column account.name audit_enabled=false -publish

Flags:
`

// runSet parses "set" and asks the running emulator to apply it.
func runSet(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("dynamics365-emulator set", flag.ContinueOnError)
	fs.SetOutput(stderr)
	envFile := fs.String("env-file", "", "the env file the running emulator wrote (required)")
	publish := fs.Bool("publish", false, "publish the table after saving (tables and columns)")
	fs.Usage = func() {
		_, _ = io.WriteString(fs.Output(), setUsage)
		fs.PrintDefaults()
	}
	// Flags may come anywhere ("set table account x=true -publish"): parse
	// up to each positional argument, keep it, go on after it.
	var positional []string
	for {
		if err := parseFlags(fs, args); err != nil {
			return err
		}
		if fs.NArg() == 0 {
			break
		}
		positional = append(positional, fs.Arg(0))
		args = fs.Args()[1:]
	}
	req, err := parseSetArgs(positional)
	if err != nil {
		return fmt.Errorf("%w (see dynamics365-emulator set -h)", err)
	}
	req.Publish = *publish
	if *envFile == "" {
		return fmt.Errorf("set needs -env-file, the file the running emulator wrote")
	}
	client, err := dialControl(*envFile)
	if err != nil {
		return err
	}
	var resp emulator.SetResponse
	if err := client.post(emulator.ControlSetPath, req, &resp); err != nil {
		return err
	}
	_, err = fmt.Fprintln(stdout, describeSet(req, resp))
	return err
}

// parseSetArgs turns "table account audit_enabled=true" into a request.
func parseSetArgs(args []string) (emulator.SetRequest, error) {
	var req emulator.SetRequest
	if len(args) == 0 {
		return req, fmt.Errorf("set needs a target: org, table NAME or column TABLE.NAME")
	}
	rest := args[1:]
	switch args[0] {
	case "org", "organization":
		req.Target = emulator.SetTargetOrganization
	case "table", "column":
		req.Target = emulator.SetTargetTable
		if len(rest) == 0 || strings.Contains(rest[0], "=") {
			return req, fmt.Errorf("set %s needs the %s's logical name before the settings", args[0], args[0])
		}
		req.Table, rest = rest[0], rest[1:]
		if args[0] == "column" {
			table, column, ok := strings.Cut(req.Table, ".")
			if !ok || table == "" || column == "" {
				return req, fmt.Errorf("set column needs TABLE.COLUMN, e.g. account.name, not %q", req.Table)
			}
			req.Target, req.Table, req.Column = emulator.SetTargetColumn, table, column
		}
	default:
		return req, fmt.Errorf("unknown target %q: use org, table NAME or column TABLE.NAME", args[0])
	}
	req.Settings = map[string]string{}
	for _, kv := range rest {
		name, value, ok := strings.Cut(kv, "=")
		if !ok || name == "" {
			return req, fmt.Errorf("%q is not name=value", kv)
		}
		if _, dup := req.Settings[name]; dup {
			return req, fmt.Errorf("%s is given twice", name)
		}
		req.Settings[name] = value
	}
	return req, nil
}

// describeSet is the one line "set" prints: the target's settings after
// the change, and for tables whether they are published.
func describeSet(req emulator.SetRequest, resp emulator.SetResponse) string {
	var b strings.Builder
	switch req.Target {
	case emulator.SetTargetOrganization:
		b.WriteString("organization:")
	case emulator.SetTargetTable:
		b.WriteString("table " + req.Table + ":")
	default:
		b.WriteString("column " + req.Table + "." + req.Column + ":")
	}
	names := make([]string, 0, len(resp.Settings))
	for name := range resp.Settings {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		b.WriteString(" " + name + "=" + resp.Settings[name])
	}
	switch {
	case req.Target == emulator.SetTargetOrganization:
	case resp.Unpublished:
		b.WriteString(" (saved, not published: add -publish to publish)")
	default:
		b.WriteString(" (published)")
	}
	return b.String()
}
