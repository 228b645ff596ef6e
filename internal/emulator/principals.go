package emulator

import (
	"crypto/x509"
	"fmt"
	"slices"
	"strings"

	"github.com/google/uuid"
)

// Privilege names the emulator checks. A client registered without
// WithPrivileges holds all of them (like a System Administrator).
const (
	PrivReadOrganization       = "prvReadOrganization"
	PrivWriteOrganization      = "prvWriteOrganization"
	PrivReadAuditSummary       = "prvReadAuditSummary"
	PrivReadRecordAuditHistory = "prvReadRecordAuditHistory"
	PrivReadEntity             = "prvReadEntity"
	PrivWriteEntity            = "prvWriteEntity"
	PrivReadAttribute          = "prvReadAttribute"
	PrivWriteAttribute         = "prvWriteAttribute"
	PrivPublishCustomizations  = "prvPublishCustomization" // singular, as Microsoft names it ("Miscellaneous privileges")
	// Deleting audit data ("Delete audit data"; prvBulkDelete as a 403 names it).
	PrivBulkDelete                = "prvBulkDelete"
	PrivDeleteRecordChangeHistory = "prvDeleteRecordChangeHistory"
)

// knownPrivileges is what "all privileges" means; its length is the
// privilegeCount reported in 403 messages for unrestricted users.
var knownPrivileges = []string{
	PrivReadOrganization, PrivWriteOrganization, PrivReadAuditSummary,
	PrivReadRecordAuditHistory, PrivReadEntity, PrivWriteEntity,
	PrivReadAttribute, PrivWriteAttribute, PrivPublishCustomizations,
	PrivBulkDelete, PrivDeleteRecordChangeHistory,
}

// privilegeNamespace derives stable privilege ids from names, so a privilege
// has the same id in every emulator (as in every real environment).
var privilegeNamespace = uuid.MustParse("9a8f6f43-6a51-4c7e-a2a4-0d365a0d17e5")

func privilegeID(name string) string {
	return uuid.NewSHA1(privilegeNamespace, []byte(name)).String()
}

type clientConfig struct {
	restricted bool
	privileges []string
	graphSet   bool // WithGraphPermissions was given
	graphPerms []string
}

// Microsoft Graph application permissions the Graph listener knows.
const (
	GraphPermAuditLogsQueryCRM = "AuditLogsQuery-CRM.Read.All"
	GraphPermAuditLogsQuery    = "AuditLogsQuery.Read.All"
)

// WithGraphPermissions sets the Microsoft Graph application permissions
// (app roles) granted to the client, which its Graph tokens carry in the
// roles claim. Without it a client holds AuditLogsQuery-CRM.Read.All; with
// no arguments it holds none.
func WithGraphPermissions(perms ...string) ClientOption {
	return func(c *clientConfig) {
		c.graphSet = true
		c.graphPerms = append([]string(nil), perms...)
	}
}

func (c clientConfig) graphPermissions() []string {
	if !c.graphSet {
		return []string{GraphPermAuditLogsQueryCRM}
	}
	return slices.Clone(c.graphPerms)
}

// ClientOption changes how a registered client's application user is set up.
type ClientOption func(*clientConfig)

// WithPrivileges limits the client's application user to exactly these
// privileges (e.g. "prvReadOrganization"). Without it the user holds all.
func WithPrivileges(privs ...string) ClientOption {
	return func(c *clientConfig) {
		c.restricted = true
		c.privileges = append([]string(nil), privs...)
	}
}

func (c clientConfig) has(priv string) bool {
	return !c.restricted || slices.Contains(c.privileges, priv)
}

func (c clientConfig) privilegeCount() int {
	if c.restricted {
		return len(c.privileges)
	}
	return len(knownPrivileges)
}

// principal is a Dataverse user (systemuser) backed by an Entra object.
type principal struct {
	systemUserID string // Dataverse systemuserid: WhoAmI UserId, audit _userid_value
	objectID     string // Entra object id: the token's oid claim
	fullName     string
	upn          string // user principal name (Purview records' userId)
	clientIP     string // the address its simulated activity comes from
	appID        string // the client id of an application user ("" for people)
	cfg          clientConfig
}

// appClient is an Entra application registration with its credentials.
// Credentials accumulate over Add*Client calls, as an app can hold secrets,
// certificates and federated credentials at once.
type appClient struct {
	id       string
	secrets  []string
	certs    []*x509.Certificate
	subjects []string // federated identity credentials trusting FederatedIssuer()
	user     *principal
}

// newPrincipal creates a user. Caller holds d.mu or is Start.
func (d *entraDirectory) newPrincipal(fullName string, cfg clientConfig) *principal {
	p := &principal{
		systemUserID: uuid.NewString(),
		objectID:     uuid.NewString(),
		fullName:     fullName,
		cfg:          cfg,
	}
	p.upn = d.uniqueUPN(fullName)
	n := len(d.principalByOID)
	p.clientIP = fmt.Sprintf("203.0.113.%d", 1+n%254) // TEST-NET-3 (RFC 5737)
	d.principalByOID[p.objectID] = p
	d.userByID[p.systemUserID] = p
	return p
}

// upnDomain is the verified domain of the emulated tenant.
const upnDomain = "contoso.example"

// uniqueUPN derives a user principal name from a full name ("Avery
// Auditor" → avery.auditor@contoso.example), adding a number when the
// name is taken. Caller holds d.mu or is Start.
func (d *entraDirectory) uniqueUPN(fullName string) string {
	var words []string
	var cur strings.Builder
	flush := func() {
		if cur.Len() > 0 {
			words = append(words, cur.String())
			cur.Reset()
		}
	}
	for _, r := range strings.ToLower(fullName) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			cur.WriteRune(r)
		case r == '-' || r == '_':
			if cur.Len() > 0 {
				cur.WriteRune(r)
			}
		default:
			flush()
		}
	}
	flush()
	local := strings.Join(words, ".")
	if local == "" {
		local = "user"
	}
	upn := local + "@" + upnDomain
	for i := 2; d.upnTaken[upn]; i++ {
		upn = fmt.Sprintf("%s%d@%s", local, i, upnDomain)
	}
	d.upnTaken[upn] = true
	return upn
}

// registerClient returns the client, creating it and its application user on
// first use. The options of the latest call decide the user's privileges.
func (s *Server) registerClient(clientID string, opts []ClientOption, add func(*appClient)) {
	var cfg clientConfig
	for _, o := range opts {
		o(&cfg)
	}
	s.entra.mu.Lock()
	defer s.entra.mu.Unlock()
	c := s.entra.clients[clientID]
	if c == nil {
		c = &appClient{id: clientID, user: s.entra.newPrincipal("# "+clientID, cfg)}
		c.user.appID = clientID
		s.entra.clients[clientID] = c
	}
	c.user.cfg = cfg
	add(c)
}

// AddSecretClient registers an application that logs in with a client secret.
func (s *Server) AddSecretClient(clientID, secret string, opts ...ClientOption) {
	s.registerClient(clientID, opts, func(c *appClient) { c.secrets = append(c.secrets, secret) })
}

// AddCertificateClient registers an application that logs in with a client
// assertion signed by cert's private key.
func (s *Server) AddCertificateClient(clientID string, cert *x509.Certificate, opts ...ClientOption) {
	s.registerClient(clientID, opts, func(c *appClient) { c.certs = append(c.certs, cert) })
}

// AddFederatedClient registers an application with a federated identity
// credential that trusts FederatedIssuer() for subject (audience
// api://AzureADTokenExchange).
func (s *Server) AddFederatedClient(clientID, subject string, opts ...ClientOption) {
	s.registerClient(clientID, opts, func(c *appClient) { c.subjects = append(c.subjects, subject) })
}

// ApplicationUserID returns the Dataverse systemuserid of a registered
// client's application user ("" if the client is unknown).
func (s *Server) ApplicationUserID(clientID string) string {
	s.entra.mu.Lock()
	defer s.entra.mu.Unlock()
	if c := s.entra.clients[clientID]; c != nil {
		return c.user.systemUserID
	}
	return ""
}

// AdminUserID returns the systemuserid of the administrator that
// UpdateOrganization attributes changes to.
func (s *Server) AdminUserID() string { return s.entra.admin.systemUserID }
