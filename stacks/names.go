package stacks

// appService is the stack id (and construct id) of the app's own service,
// the one that takes every request no other service's rule matches.
const appService = "Service"

// uniqueName is the one naming scheme of every name that must be unique in
// the account and region and that the stacks write literally (alarm names,
// the dashboard's, the task-definition family): <appName>[-<service>],
// where the app's own service (appService) is just <appName> and another
// service <name> is <appName>-<name>. Environments, when they come, insert
// -<env> after appName. CloudFormation names everything else itself, or
// takes the stack name (<appName>-<stack id>), which is unique already.
//
// A name that changes replaces what carries it (a new task-definition
// family is a new deployment; a new alarm name a new alarm): call this, and
// never build such a name by hand.
func uniqueName(cfg Config, service string) string {
	if service == appService {
		return cfg.AppName
	}
	return cfg.AppName + "-" + service
}
