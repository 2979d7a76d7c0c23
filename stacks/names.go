package stacks

// uniqueName starts every name a service owns that must be unique in the
// account and region (alarms, dashboard, the Spot fallback's schedule
// group): the app's name for its own service, <appName>-<service> for one
// of services. Environments will insert their name after the app's.
func uniqueName(cfg Config) string {
	if cfg.Service == "" {
		return cfg.AppName
	}
	return cfg.AppName + "-" + cfg.Service
}
