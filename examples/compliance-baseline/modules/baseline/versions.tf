terraform {
  required_version = ">= 1.9" # cross-variable validation

  required_providers {
    dynamics365 = {
      source = "d365-audit/dynamics365"
    }
  }
}
