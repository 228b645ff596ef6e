package main

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/d365-audit/terraform-provider-dynamics365/internal/emulator"
)

// controlKeyVar names the control key in the env file. It is not a
// provider setting: only the simulate sub-command reads it.
const controlKeyVar = "DYNAMICS365_EMULATOR_CONTROL_KEY"

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
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	if *envFile == "" || *actions <= 0 {
		return fmt.Errorf("simulate needs -env-file and -actions N (N > 0)")
	}
	env, err := readEnvFile(*envFile)
	if err != nil {
		return err
	}
	url, key, caFile := env["DYNAMICS365_ENVIRONMENT_URL"], env[controlKeyVar], env["DYNAMICS365_CA_CERTIFICATE_FILE"]
	if url == "" || key == "" || caFile == "" {
		return fmt.Errorf("%s lacks DYNAMICS365_ENVIRONMENT_URL, DYNAMICS365_CA_CERTIFICATE_FILE or %s", *envFile, controlKeyVar)
	}
	caPEM, err := os.ReadFile(caFile)
	if err != nil {
		return fmt.Errorf("read CA file (is the emulator still running?): %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return fmt.Errorf("no certificate in %s", caFile)
	}
	req := emulator.SimulateRequest{Seed: *seed, Actions: *actions, Users: *users}
	if *tables != "" {
		req.Tables = strings.Split(*tables, ",")
	}
	if *window > 0 {
		req.To = time.Now().UTC()
		req.From = req.To.Add(-*window)
	}
	body, _ := json.Marshal(req)
	client := &http.Client{
		Timeout:   5 * time.Minute,
		Transport: &http.Transport{Proxy: nil, TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}},
	}
	hreq, err := http.NewRequest(http.MethodPost, strings.TrimSuffix(url, "/")+emulator.ControlPath, bytes.NewReader(body))
	if err != nil {
		return err
	}
	hreq.Header.Set("Content-Type", "application/json")
	hreq.Header.Set(emulator.ControlKeyHeader, key)
	resp, err := client.Do(hreq)
	if err != nil {
		return fmt.Errorf("contact emulator: %w", err)
	}
	defer func() { _ = resp.Body.Close() }()
	out, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("emulator answered %s: %s", resp.Status, bytes.TrimSpace(out))
	}
	var sum emulator.SimulateResponse
	if err := json.Unmarshal(out, &sum); err != nil {
		return fmt.Errorf("decode summary: %w", err)
	}
	_, err = fmt.Fprintf(stdout, "simulated %d actions: %d creates, %d updates, %d deletes, %d sign-ins, %d reads, %d exports; %d audit rows and %d Purview records written\n",
		sum.Creates+sum.Updates+sum.Deletes+sum.SignIns+sum.Reads+sum.Exports, sum.Creates, sum.Updates, sum.Deletes, sum.SignIns,
		sum.Reads, sum.Exports, sum.AuditRowsWritten, sum.PurviewRecordsWritten)
	return err
}

// readEnvFile reads the "export NAME='value'" lines the server writes.
func readEnvFile(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		line = strings.TrimPrefix(line, "export ")
		name, value, ok := strings.Cut(line, "=")
		if !ok || strings.HasPrefix(line, "#") {
			continue
		}
		out[strings.TrimSpace(name)] = shellUnquote(value)
	}
	return out, sc.Err()
}

// shellUnquote undoes shellQuote (single quotes, with '\” for a quote).
func shellUnquote(s string) string {
	if len(s) < 2 || s[0] != '\'' || s[len(s)-1] != '\'' {
		return s
	}
	return strings.ReplaceAll(s[1:len(s)-1], `'\''`, "'")
}
