package stacks

// uniqueName is the one naming scheme of every name that must be unique in
// the account and region and that the stacks write literally (alarm names,
// the dashboard's, the task-definition family): <appName>[-<service>],
// where the app's own service is just <appName> and a service <name> of
// services is <appName>-<name>. Environments, when they come, insert
// -<env> after appName. CloudFormation names everything else itself (the
// Spot fallback's schedule group among them), or takes the stack name
// (<appName>-<stack id>), which is unique already.
//
// A name that changes replaces what carries it (a new task-definition
// family is a new deployment; a new alarm name a new alarm): call this, and
// never build such a name by hand.
func uniqueName(cfg Config) string {
	if cfg.Service == "" {
		return cfg.AppName
	}
	return cfg.AppName + "-" + cfg.Service
}
