package main

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/d365-audit/terraform-provider-dynamics365/internal/emulator"
)

// controlKeyVar names the control key in the env file. It is not a
// provider setting: only the sub-commands read it.
const controlKeyVar = "DYNAMICS365_EMULATOR_CONTROL_KEY"

// controlClient calls a running emulator's control endpoint.
type controlClient struct {
	url, key string
	http     *http.Client
}

// dialControl reads the environment URL, CA file and control key from
// the env file a running emulator wrote.
func dialControl(envFile string) (*controlClient, error) {
	env, err := readEnvFile(envFile)
	if err != nil {
		return nil, fmt.Errorf("read env file (is the emulator running?): %w", err)
	}
	url, key, caFile := env["DYNAMICS365_ENVIRONMENT_URL"], env[controlKeyVar], env["DYNAMICS365_CA_CERTIFICATE_FILE"]
	if url == "" || key == "" || caFile == "" {
		return nil, fmt.Errorf("%s lacks DYNAMICS365_ENVIRONMENT_URL, DYNAMICS365_CA_CERTIFICATE_FILE or %s", envFile, controlKeyVar)
	}
	caPEM, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("read CA file (is the emulator still running?): %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, fmt.Errorf("no certificate in %s", caFile)
	}
	return &controlClient{
		url: strings.TrimSuffix(url, "/"),
		key: key,
		http: &http.Client{
			Timeout:   5 * time.Minute,
			Transport: &http.Transport{Proxy: nil, TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}},
		},
	}, nil
}

// post sends req as JSON to path and decodes a 200 answer into resp;
// other answers are errors carrying the emulator's message.
func (c *controlClient) post(path string, req, resp any) error {
	body, err := json.Marshal(req)
	if err != nil {
		return err
	}
	hreq, err := http.NewRequest(http.MethodPost, c.url+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	hreq.Header.Set("Content-Type", "application/json")
	hreq.Header.Set(emulator.ControlKeyHeader, c.key)
	hresp, err := c.http.Do(hreq)
	if err != nil {
		return fmt.Errorf("contact emulator: %w", err)
	}
	defer func() { _ = hresp.Body.Close() }()
	out, err := io.ReadAll(io.LimitReader(hresp.Body, 1<<20))
	if err != nil {
		return err
	}
	if hresp.StatusCode != http.StatusOK {
		var e struct{ Error string }
		if json.Unmarshal(out, &e) == nil && e.Error != "" {
			return fmt.Errorf("emulator answered %s: %s", hresp.Status, e.Error)
		}
		return fmt.Errorf("emulator answered %s: %s", hresp.Status, bytes.TrimSpace(out))
	}
	if err := json.Unmarshal(out, resp); err != nil {
		return fmt.Errorf("decode answer: %w", err)
	}
	return nil
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
