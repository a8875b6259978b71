// The Functions app entry: importing a module registers its function with the host.
import "./onResourceWrite.js";
import "./driftAudit.js";
import "./reconcileVm.js";
import "./compliance.js";
import "./reconcileNow.js";
import "./dashboard.js";
