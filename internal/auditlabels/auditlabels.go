// Package auditlabels holds the English labels of the Dataverse audit
// table's action choice, as the Web API returns them in
// action@OData.Community.Display.V1.FormattedValue: the emulator serves
// them, and the Dataverse client's action names (audit_change_at_org_level)
// are their snake_case forms.
package auditlabels

// Action maps each action code to its label.
var Action = map[int]string{
	0: "Unknown", 1: "Create", 2: "Update", 3: "Delete", 4: "Activate", 5: "Deactivate",
	11: "Cascade", 12: "Merge", 13: "Assign", 14: "Share", 15: "Retrieve", 16: "Close",
	17: "Cancel", 18: "Complete", 20: "Resolve", 21: "Reopen", 22: "Fulfill", 23: "Paid",
	24: "Qualify", 25: "Disqualify", 26: "Submit", 27: "Reject", 28: "Approve", 29: "Invoice",
	30: "Hold", 31: "Add Member", 32: "Remove Member", 33: "Associate Entities",
	34: "Disassociate Entities", 53: "Assign Role To Team", 54: "Remove Role From Team",
	55: "Assign Role To User", 56: "Remove Role From User", 57: "Add Privileges to Role",
	58: "Remove Privileges From Role", 59: "Replace Privileges In Role",
	64: "User Access via Web", 65: "User Access via Web Services", 100: "Delete Entity",
	101: "Delete Attribute", 102: "Audit Change at Entity Level",
	103: "Audit Change at Attribute Level", 104: "Audit Change at Org Level",
	105: "Entity Audit Started", 106: "Attribute Audit Started", 107: "Audit Enabled",
	108: "Entity Audit Stopped", 109: "Attribute Audit Stopped", 110: "Audit Disabled",
	111: "Audit Log Deletion", 112: "User Access Audit Started", 113: "User Access Audit Stopped",
}
