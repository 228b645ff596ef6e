package emulator

import (
	"strings"
	"sync"
)

// entraDirectory is the Entra part's directory: registered applications,
// every principal (administrator, application users, simulation users),
// the resources tokens can be issued for and the GitHub Actions and
// managed identity credentials, under its own lock. It calls no other
// part, so any part may ask it while holding its own lock.
type entraDirectory struct {
	mu             sync.Mutex
	clients        map[string]*appClient // by client id
	principalByOID map[string]*principal // by Entra object id (token oid claim)
	userByID       map[string]*principal // every principal, by systemuserid
	simUsers       []*principal          // AddUser order
	admin          *principal            // the portal administrator of UpdateOrganization; set by Start
	audiences      map[string]bool       // resources tokens can be issued for (no trailing slash)
	upnTaken       map[string]bool       // user principal names in use
	githubTokens   map[string]string     // GitHub Actions request token -> subject
	miByHeader     map[string]string     // X-IDENTITY-HEADER -> client id
	managedIDs     map[string]bool       // client ids registered by ManagedIdentity
}

func newEntraDirectory() *entraDirectory {
	return &entraDirectory{
		clients:        map[string]*appClient{},
		principalByOID: map[string]*principal{},
		userByID:       map[string]*principal{},
		audiences:      map[string]bool{},
		upnTaken:       map[string]bool{},
		githubTokens:   map[string]string{},
		miByHeader:     map[string]string{},
		managedIDs:     map[string]bool{},
	}
}

// addUser creates a systemuser that simulations can act as.
func (d *entraDirectory) addUser(fullName string) *principal {
	d.mu.Lock()
	defer d.mu.Unlock()
	p := d.newPrincipal(fullName, clientConfig{})
	d.simUsers = append(d.simUsers, p)
	return p
}

// simUserNamed returns the first simulation user with that name, creating
// it if needed.
func (d *entraDirectory) simUserNamed(name string) *principal {
	d.mu.Lock()
	for _, p := range d.simUsers {
		if p.fullName == name {
			d.mu.Unlock()
			return p
		}
	}
	d.mu.Unlock()
	return d.addUser(name)
}

// user finds any principal by systemuserid: the one lookup path of the
// simulations.
func (d *entraDirectory) user(systemUserID string) *principal {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.userByID[systemUserID]
}

// AddResource registers another resource in the tenant (an application
// whose identifier URI is uri, e.g. https://host:port), so that the token
// endpoint issues tokens for it instead of answering AADSTS500011. Tests
// use it to point the provider at a server of their own.
func (s *Server) AddResource(uri string) {
	s.entra.mu.Lock()
	defer s.entra.mu.Unlock()
	s.entra.audiences[strings.TrimSuffix(uri, "/")] = true
}
