package stacks

// uniqueName is the one naming scheme of every name that must be unique in
// the account and region and that the stacks write literally (alarm names,
// the dashboard's, the task-definition family, the stack names):
// <appName>[-<env>][-<service>], where the app's own service has no
// -<service>, a service <name> of services adds -<name>, and an
// environment <env> of environments adds -<env>, except the adopted one,
// which keeps the names it had before environments (docs/environments.md).
// CloudFormation names everything else itself (the Spot fallback's
// schedule group among them), or takes the stack name, which is unique
// already.
//
// The environment comes right after the app's name so that one
// environment's names share one prefix (<appName>-<env>-: an IAM policy,
// a console filter or a cost report selects an environment by it), and
// the stack names read <appName>-<env>-Network as the stacks' paths read
// <env>/Network.
//
// A name that changes replaces what carries it (a new task-definition
// family is a new deployment; a new alarm name a new alarm): call this, and
// never build such a name by hand.
func uniqueName(cfg Config) string {
	name := cfg.AppName
	if cfg.EnvName != "" && !cfg.Adopted {
		name += "-" + cfg.EnvName
	}
	if cfg.Service != "" {
		name += "-" + cfg.Service
	}
	return name
}

// stackName is the CloudFormation name of the stack with construct id id:
// <appName>[-<env>]-<id>.
func stackName(cfg Config, id string) string {
	app := cfg
	app.Service = ""
	return uniqueName(app) + "-" + id
}

// stackIDs are the construct ids of cfg's stacks, in deploy order: no
// Network with vpcId, one Service-<name> per service.
func stackIDs(cfg Config) []string {
	var ids []string
	if cfg.VpcId == "" {
		ids = append(ids, "Network")
	}
	ids = append(ids, "LoadBalancer", "Cluster", "Service")
	for _, s := range cfg.Services {
		ids = append(ids, s.StackID())
	}
	return ids
}
