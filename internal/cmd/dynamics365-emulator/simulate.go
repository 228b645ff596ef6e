package main

import (
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/d365-audit/terraform-provider-dynamics365/internal/emulator"
)

// runSimulate asks a running emulator (found through its env file) to
// simulate activity (including reads and exports, which reach the Purview
// unified audit log when read auditing is on) and prints the summary.
func runSimulate(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("dynamics365-emulator simulate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	envFile := fs.String("env-file", "", "the env file the running emulator wrote (required)")
	actions := fs.Int("actions", 0, "number of actions to simulate (required, 1 to 1000000)")
	seed := fs.Int64("seed", 1, "random seed: the same seed on the same state gives the same activity")
	users := fs.Int("users", 0, "number of simulated users (default 3)")
	tables := fs.String("tables", "", "comma-separated table logical names (default account,contact,lead,opportunity,incident)")
	window := fs.Duration("window", 0, "spread the actions over this window ending now (default 24h)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	if *envFile == "" || *actions <= 0 {
		return fmt.Errorf("simulate needs -env-file and -actions N (N > 0)")
	}
	client, err := dialControl(*envFile)
	if err != nil {
		return err
	}
	req := emulator.SimulateRequest{Seed: *seed, Actions: *actions, Users: *users}
	if *tables != "" {
		req.Tables = strings.Split(*tables, ",")
	}
	if *window > 0 {
		req.To = time.Now().UTC()
		req.From = req.To.Add(-*window)
	}
	var sum emulator.SimulateResponse
	if err := client.post(emulator.ControlPath, req, &sum); err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, "simulated %d actions: %d creates, %d updates, %d deletes, %d sign-ins, %d reads, %d exports; %d audit rows and %d Purview records written\n",
		sum.Creates+sum.Updates+sum.Deletes+sum.SignIns+sum.Reads+sum.Exports, sum.Creates, sum.Updates, sum.Deletes, sum.SignIns,
		sum.Reads, sum.Exports, sum.AuditRowsWritten, sum.PurviewRecordsWritten)
	return err
}
