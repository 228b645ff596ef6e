// Command terraform-provider-dynamics365 serves the Dynamics 365 audit provider
// over Terraform plugin protocol 6.
package main

import (
	"context"
	"flag"
	"log"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"

	"github.com/d365-audit/terraform-provider-dynamics365/internal/provider"
)

// Keep docs/ in step with the schemas: `make generate` runs this.
//go:generate go tool tfplugindocs generate --provider-name dynamics365 --rendered-provider-name "Dynamics 365 audit"

// version is set by the release build (-ldflags "-X main.version=...").
var version = "dev"

func main() {
	var debug bool
	flag.BoolVar(&debug, "debug", false, "run the provider with support for debuggers like delve")
	flag.Parse()

	err := providerserver.Serve(context.Background(), provider.New(version), providerserver.ServeOpts{
		Address: "registry.terraform.io/d365-audit/dynamics365",
		Debug:   debug,
	})
	if err != nil {
		log.Fatal(err)
	}
}
