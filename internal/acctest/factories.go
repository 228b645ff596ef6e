package acctest

import (
	"github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
)

// ProviderName is the provider's local name in configurations.
const ProviderName = "dynamics365"

// ProviderFactories serves newProvider (provider.New with test options) to
// the test framework under ProviderName. It takes the constructor rather
// than importing internal/provider, which would make a cycle for the
// provider's own tests.
func ProviderFactories(newProvider func() provider.Provider) map[string]func() (tfprotov6.ProviderServer, error) {
	return map[string]func() (tfprotov6.ProviderServer, error){
		ProviderName: providerserver.NewProtocol6WithError(newProvider()),
	}
}
