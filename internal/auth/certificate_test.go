package auth

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func selfSignedPEM(t *testing.T) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "terraform-provider-dynamics365 test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8})
}

func certConfig() Config {
	return Config{TenantID: testTenant, ClientID: testClient}
}

func wantConfigError(t *testing.T, err error, attr string, mention ...string) {
	t.Helper()
	var ce *ConfigError
	if !errors.As(err, &ce) {
		t.Fatalf("error = %v, want *ConfigError", err)
	}
	if ce.Attribute != attr {
		t.Errorf("Attribute = %q, want %q (%v)", ce.Attribute, attr, err)
	}
	for _, m := range mention {
		if !strings.Contains(err.Error(), m) {
			t.Errorf("error %q does not mention %q", err, m)
		}
	}
}

func TestCertificatePEM(t *testing.T) {
	certPEM, keyPEM := selfSignedPEM(t)

	t.Run("file", func(t *testing.T) {
		cfg := certConfig()
		cfg.ClientCertificatePath = writeFile(t, "c.pem", append(append([]byte{}, certPEM...), keyPEM...))
		cred, m, err := NewCredential(cfg)
		if err != nil || m != MethodClientCertificate || cred == nil {
			t.Fatalf("NewCredential() = %v, %q, %v", cred, m, err)
		}
	})
	t.Run("key first and a password that PEM does not need", func(t *testing.T) {
		cfg := certConfig()
		cfg.ClientCertificatePath = writeFile(t, "c.pem", append(append([]byte{}, keyPEM...), certPEM...))
		cfg.ClientCertificatePassword = "unused"
		if _, _, err := NewCredential(cfg); err != nil {
			t.Fatalf("NewCredential() error = %v", err)
		}
	})
	t.Run("bytes", func(t *testing.T) {
		cfg := certConfig()
		cfg.ClientCertificate = append(append([]byte{}, certPEM...), keyPEM...)
		cred, _, err := NewCredential(cfg)
		if err != nil {
			t.Fatalf("NewCredential() error = %v", err)
		}
		if s := cred.(*Credential).String(); !strings.Contains(s, "source=client_certificate}") && !strings.Contains(s, "source=client_certificate ") {
			t.Errorf("String() = %q", s)
		}
	})
	t.Run("garbage file", func(t *testing.T) {
		cfg := certConfig()
		cfg.ClientCertificatePath = writeFile(t, "garbage.pfx", []byte("this is not a certificate"))
		_, _, err := NewCredential(cfg)
		wantConfigError(t, err, AttrClientCertificateFilePath, "client_certificate_file_path", "legacy encryption")
	})
	t.Run("garbage bytes", func(t *testing.T) {
		cfg := certConfig()
		cfg.ClientCertificate = []byte("nope")
		_, _, err := NewCredential(cfg)
		wantConfigError(t, err, AttrClientCertificate, "client_certificate")
	})
	t.Run("missing file", func(t *testing.T) {
		cfg := certConfig()
		cfg.ClientCertificatePath = filepath.Join(t.TempDir(), "absent.pem")
		_, _, err := NewCredential(cfg)
		wantConfigError(t, err, AttrClientCertificateFilePath, "client_certificate_file_path", "absent.pem")
	})
	t.Run("certificate without key", func(t *testing.T) {
		cfg := certConfig()
		cfg.ClientCertificatePath = writeFile(t, "c.pem", certPEM)
		_, _, err := NewCredential(cfg)
		wantConfigError(t, err, AttrClientCertificateFilePath, "no private key")
	})
	t.Run("encrypted PKCS#8 key", func(t *testing.T) {
		enc := pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: []byte{1, 2, 3}})
		cfg := certConfig()
		cfg.ClientCertificatePath = writeFile(t, "c.pem", append(append([]byte{}, certPEM...), enc...))
		cfg.ClientCertificatePassword = "pem-password"
		_, _, err := NewCredential(cfg)
		wantConfigError(t, err, AttrClientCertificateFilePath, "encrypted", "not supported")
		if strings.Contains(err.Error(), "pem-password") {
			t.Errorf("error contains the password: %v", err)
		}
	})
	t.Run("legacy encrypted RSA key", func(t *testing.T) {
		enc := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Headers: map[string]string{
			"Proc-Type": "4,ENCRYPTED", "DEK-Info": "AES-128-CBC,00000000000000000000000000000000",
		}, Bytes: []byte{1, 2, 3}})
		cfg := certConfig()
		cfg.ClientCertificatePath = writeFile(t, "c.pem", append(append([]byte{}, certPEM...), enc...))
		_, _, err := NewCredential(cfg)
		wantConfigError(t, err, AttrClientCertificateFilePath, "encrypted")
	})
}

// TestCertificatePFX builds PFX files with openssl (Go has no PKCS#12 encoder in this module's
// dependencies) and skips when openssl is not installed.
func TestCertificatePFX(t *testing.T) {
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl not found; cannot build a PFX")
	}
	certPEM, keyPEM := selfSignedPEM(t)
	dir := t.TempDir()
	certPath := filepath.Join(dir, "cert.pem")
	keyPath := filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certPath, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyPath, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	const password = "Pfx-Passw0rd"
	build := func(t *testing.T, name string, extra ...string) string {
		t.Helper()
		out := filepath.Join(dir, name)
		args := append([]string{"pkcs12", "-export", "-in", certPath, "-inkey", keyPath, "-out", out, "-passout", "pass:" + password}, extra...)
		if b, err := exec.Command(openssl, args...).CombinedOutput(); err != nil {
			t.Skipf("openssl %v: %v: %s", args, err, b)
		}
		return out
	}
	legacy := build(t, "legacy.pfx", "-certpbe", "PBE-SHA1-3DES", "-keypbe", "PBE-SHA1-3DES", "-macalg", "sha1")

	t.Run("legacy with the right password", func(t *testing.T) {
		cfg := certConfig()
		cfg.ClientCertificatePath = legacy
		cfg.ClientCertificatePassword = password
		if _, m, err := NewCredential(cfg); err != nil || m != MethodClientCertificate {
			t.Fatalf("NewCredential() = %q, %v", m, err)
		}
	})
	t.Run("legacy with a wrong password", func(t *testing.T) {
		cfg := certConfig()
		cfg.ClientCertificatePath = legacy
		cfg.ClientCertificatePassword = "wrong-password"
		_, _, err := NewCredential(cfg)
		wantConfigError(t, err, AttrClientCertificatePassword, "client_certificate_password")
		if strings.Contains(err.Error(), "wrong-password") || strings.Contains(err.Error(), password) {
			t.Errorf("error contains a password: %v", err)
		}
	})
	t.Run("legacy without a password", func(t *testing.T) {
		cfg := certConfig()
		cfg.ClientCertificatePath = legacy
		_, _, err := NewCredential(cfg)
		wantConfigError(t, err, AttrClientCertificatePassword, "client_certificate_password")
	})
	t.Run("modern AES encryption", func(t *testing.T) {
		modern := build(t, "modern.pfx", "-certpbe", "AES-256-CBC", "-keypbe", "AES-256-CBC", "-macalg", "sha256")
		cfg := certConfig()
		cfg.ClientCertificatePath = modern
		cfg.ClientCertificatePassword = password
		_, _, err := NewCredential(cfg)
		if err == nil {
			t.Skip("this pkcs12 decoder reads AES-encrypted PFX files")
		}
		wantConfigError(t, err, AttrClientCertificateFilePath, "legacy encryption")
		if strings.Contains(err.Error(), password) {
			t.Errorf("error contains the password: %v", err)
		}
	})
}
