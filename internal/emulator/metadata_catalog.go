package emulator

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/google/uuid"
)

// The catalogue of tables is generated from the compact tables below into
// full EntityMetadata / AttributeMetadata definitions (about 100 properties a
// table, 50–60 a column), each property in the same JSON shape the Web API
// serves.

// Table flags.
const (
	fAudit    = 1 << iota // IsAuditEnabled.Value true by default
	fLocked               // IsAuditEnabled.CanBeChanged false
	fActivity             // an activity table (primary key activityid)
	fNoState              // no statecode/statuscode
	fCustom               // unmanaged custom table
	fUser                 // OwnershipType UserOwned
	fOrg                  // OrganizationOwned
	fBusiness             // BusinessOwned
)

type tableSpec struct {
	name, schema     string
	otc              int
	en, enPl         string
	de, dePl         string
	primaryName      string
	flags            int
	introduced       string
	entitySetName    string // default: plural of name
	extras           []colSpec
	primaryNameLabel [2]string
}

func (t tableSpec) has(f int) bool { return t.flags&f != 0 }

// standardTables: the tables of a Dynamics 365 Sales / Customer Service
// environment. Locked (CanBeChanged false) audit settings: activitypointer,
// calendar, subject, uom, uomschedule.
var standardTables = []tableSpec{
	{name: "account", schema: "Account", otc: 1, en: "Account", enPl: "Accounts", de: "Firma", dePl: "Firmen", primaryName: "name", flags: fUser | fAudit, extras: accountColumns},
	{name: "contact", schema: "Contact", otc: 2, en: "Contact", enPl: "Contacts", de: "Kontakt", dePl: "Kontakte", primaryName: "fullname", flags: fUser | fAudit, extras: contactColumns},
	{name: "opportunity", schema: "Opportunity", otc: 3, en: "Opportunity", enPl: "Opportunities", de: "Verkaufschance", dePl: "Verkaufschancen", primaryName: "name", flags: fUser | fAudit, extras: opportunityColumns},
	{name: "lead", schema: "Lead", otc: 4, en: "Lead", enPl: "Leads", de: "Lead", dePl: "Leads", primaryName: "fullname", flags: fUser | fAudit, extras: leadColumns},
	{name: "annotation", schema: "Annotation", otc: 5, en: "Note", enPl: "Notes", de: "Notiz", dePl: "Notizen", primaryName: "subject", flags: fUser | fAudit | fNoState, extras: []colSpec{memo("notetext", "NoteText", "Description", "Beschreibung", 100000), str("filename", "FileName", "File Name", "Dateiname", 255), boolean("isdocument", "IsDocument", "Is Document", "Ist Dokument")}},
	{name: "systemuser", schema: "SystemUser", otc: 8, en: "User", enPl: "Users", de: "Benutzer", dePl: "Benutzer", primaryName: "fullname", flags: fBusiness | fAudit | fNoState, extras: systemUserColumns},
	{name: "team", schema: "Team", otc: 9, en: "Team", enPl: "Teams", de: "Team", dePl: "Teams", primaryName: "name", flags: fBusiness | fAudit | fNoState, extras: []colSpec{picklist("teamtype", "TeamType", "Team Type", "Teamtyp"), boolean("isdefault", "IsDefault", "Is Default", "Ist Standard"), memo("description", "Description", "Description", "Beschreibung", 2000)}},
	{name: "businessunit", schema: "BusinessUnit", otc: 10, en: "Business Unit", enPl: "Business Units", de: "Unternehmenseinheit", dePl: "Unternehmenseinheiten", primaryName: "name", flags: fBusiness | fAudit | fNoState, extras: []colSpec{lookup("parentbusinessunitid", "ParentBusinessUnitId", "Parent Business", "Übergeordnete Einheit", "businessunit"), boolean("isdisabled", "IsDisabled", "Is Disabled", "Ist deaktiviert"), str("divisionname", "DivisionName", "Division", "Abteilung", 100)}},
	{name: "contract", schema: "Contract", otc: 1010, en: "Contract", enPl: "Contracts", de: "Vertrag", dePl: "Verträge", primaryName: "title", flags: fUser | fAudit, extras: []colSpec{customer("customerid", "CustomerId", "Customer", "Kunde"), dateTime("activeon", "ActiveOn", "Contract Start Date", "Vertragsbeginn").dateOnly(), dateTime("expireson", "ExpiresOn", "Contract End Date", "Vertragsende").dateOnly(), money("totalprice", "TotalPrice", "Total Price", "Gesamtpreis", "0.0", "1000000000000.0"), picklist("billingfrequencycode", "BillingFrequencyCode", "Billing Frequency", "Abrechnungshäufigkeit")}},
	{name: "contractdetail", schema: "ContractDetail", otc: 1011, en: "Contract Line", enPl: "Contract Lines", de: "Vertragsposition", dePl: "Vertragspositionen", primaryName: "title", flags: fUser, extras: lineItemColumns},
	{name: "organization", schema: "Organization", otc: 1019, en: "Organization", enPl: "Organizations", de: "Organisation", dePl: "Organisationen", primaryName: "name", flags: fNoState, extras: []colSpec{boolean("isauditenabled", "IsAuditEnabled", "Is Auditing Enabled", "Überwachung aktiviert"), integer("auditretentionperiodv2", "AuditRetentionPeriodV2", "Audit Retention Period", "Aufbewahrungsdauer der Überwachung", "-1", "365000")}},
	{name: "pricelevel", schema: "PriceLevel", otc: 1022, en: "Price List", enPl: "Price Lists", de: "Preisliste", dePl: "Preislisten", primaryName: "name", flags: fOrg | fAudit, extras: []colSpec{dateTime("begindate", "BeginDate", "Start Date", "Startdatum").dateOnly(), dateTime("enddate", "EndDate", "End Date", "Enddatum").dateOnly(), lookup("transactioncurrencyid", "TransactionCurrencyId", "Currency", "Währung", "transactioncurrency")}},
	{name: "product", schema: "Product", otc: 1024, en: "Product", enPl: "Products", de: "Produkt", dePl: "Produkte", primaryName: "name", flags: fOrg | fAudit, extras: productColumns},
	{name: "role", schema: "Role", otc: 1036, en: "Security Role", enPl: "Security Roles", de: "Sicherheitsrolle", dePl: "Sicherheitsrollen", primaryName: "name", flags: fBusiness | fAudit | fNoState, extras: []colSpec{lookup("parentroleid", "ParentRoleId", "Parent Role", "Übergeordnete Rolle", "role"), boolean("isinherited", "IsInherited", "Member's privilege inheritance", "Berechtigungsvererbung")}},
	{name: "salesliterature", schema: "SalesLiterature", otc: 1038, en: "Sales Literature", enPl: "Sales Literature", de: "Verkaufsliteratur", dePl: "Verkaufsliteratur", primaryName: "name", flags: fOrg | fAudit | fNoState, extras: []colSpec{picklist("literaturetypecode", "LiteratureTypeCode", "Type", "Typ"), dateTime("expirationdate", "ExpirationDate", "Expiration Date", "Ablaufdatum").dateOnly(), memo("description", "Description", "Description", "Beschreibung", 2000)}},
	{name: "uom", schema: "UoM", otc: 1055, en: "Unit", enPl: "Units", de: "Einheit", dePl: "Einheiten", primaryName: "name", flags: fOrg | fLocked | fNoState, extras: []colSpec{decimal("quantity", "Quantity", "Quantity", "Menge", 5, "0.00001", "1000000000"), lookup("uomscheduleid", "UoMScheduleId", "Unit Schedule", "Einheitenplan", "uomschedule")}},
	{name: "uomschedule", schema: "UoMSchedule", otc: 1056, en: "Unit Group", enPl: "Unit Groups", de: "Einheitengruppe", dePl: "Einheitengruppen", primaryName: "name", flags: fOrg | fLocked | fAudit, extras: []colSpec{str("baseuomname", "BaseUoMName", "Primary Unit", "Primäre Einheit", 100)}},
	{name: "customeraddress", schema: "CustomerAddress", otc: 1071, en: "Address", enPl: "Addresses", de: "Adresse", dePl: "Adressen", primaryName: "name", flags: fUser | fNoState, extras: []colSpec{str("line1", "Line1", "Street 1", "Straße 1", 250), str("city", "City", "City", "Ort", 80), str("postalcode", "PostalCode", "ZIP/Postal Code", "Postleitzahl", 20), str("country", "Country", "Country/Region", "Land/Region", 80), decimal("latitude", "Latitude", "Latitude", "Breitengrad", 5, "-90", "90")}},
	{name: "opportunityproduct", schema: "OpportunityProduct", otc: 1083, en: "Opportunity Product", enPl: "Opportunity Products", de: "Verkaufschancenprodukt", dePl: "Verkaufschancenprodukte", primaryName: "opportunityproductname", flags: fUser | fAudit | fNoState, extras: lineItemColumns},
	{name: "quote", schema: "Quote", otc: 1084, en: "Quote", enPl: "Quotes", de: "Angebot", dePl: "Angebote", primaryName: "name", flags: fUser | fAudit, extras: salesDocumentColumns("quotenumber", "QuoteNumber", "Quote ID", "Angebots-ID")},
	{name: "quotedetail", schema: "QuoteDetail", otc: 1085, en: "Quote Product", enPl: "Quote Products", de: "Angebotsprodukt", dePl: "Angebotsprodukte", primaryName: "quotedetailname", flags: fUser | fAudit | fNoState, extras: lineItemColumns},
	{name: "salesorder", schema: "SalesOrder", otc: 1088, en: "Order", enPl: "Orders", de: "Auftrag", dePl: "Aufträge", primaryName: "name", flags: fUser | fAudit, extras: salesDocumentColumns("ordernumber", "OrderNumber", "Order ID", "Auftrags-ID")},
	{name: "salesorderdetail", schema: "SalesOrderDetail", otc: 1089, en: "Order Product", enPl: "Order Products", de: "Auftragsprodukt", dePl: "Auftragsprodukte", primaryName: "salesorderdetailname", flags: fUser | fAudit | fNoState, extras: lineItemColumns},
	{name: "invoice", schema: "Invoice", otc: 1090, en: "Invoice", enPl: "Invoices", de: "Rechnung", dePl: "Rechnungen", primaryName: "name", flags: fUser | fAudit, extras: salesDocumentColumns("invoicenumber", "InvoiceNumber", "Invoice ID", "Rechnungs-ID")},
	{name: "invoicedetail", schema: "InvoiceDetail", otc: 1091, en: "Invoice Product", enPl: "Invoice Products", de: "Rechnungsprodukt", dePl: "Rechnungsprodukte", primaryName: "invoicedetailname", flags: fUser | fAudit | fNoState, extras: lineItemColumns},
	{name: "incident", schema: "Incident", otc: 112, en: "Case", enPl: "Cases", de: "Fall", dePl: "Fälle", primaryName: "title", flags: fUser | fAudit, extras: incidentColumns},
	{name: "competitor", schema: "Competitor", otc: 123, en: "Competitor", enPl: "Competitors", de: "Mitbewerber", dePl: "Mitbewerber", primaryName: "name", flags: fOrg | fAudit | fNoState, extras: []colSpec{str("websiteurl", "WebSiteUrl", "Website", "Website", 200).format("Url"), money("reportedrevenue", "ReportedRevenue", "Reported Revenue", "Gemeldeter Umsatz", "0.0", "100000000000000.0"), memo("strengths", "Strengths", "Strengths", "Stärken", 100000)}},
	{name: "kbarticle", schema: "KbArticle", otc: 127, en: "Article", enPl: "Articles", de: "Artikel", dePl: "Artikel", primaryName: "title", flags: fOrg, extras: []colSpec{str("number", "Number", "Article ID", "Artikel-ID", 100), memo("content", "Content", "Content", "Inhalt", 1073741823), lookup("subjectid", "SubjectId", "Subject", "Betreff", "subject")}},
	{name: "subject", schema: "Subject", otc: 129, en: "Subject", enPl: "Subjects", de: "Betreff", dePl: "Betreffe", primaryName: "title", flags: fOrg | fLocked | fNoState, extras: []colSpec{lookup("parentsubject", "ParentSubject", "Parent Subject", "Übergeordneter Betreff", "subject"), memo("description", "Description", "Description", "Beschreibung", 2000)}},
	{name: "position", schema: "Position", otc: 50, en: "Position", enPl: "Positions", de: "Position", dePl: "Positionen", primaryName: "name", flags: fOrg, introduced: "9.0.0.0", extras: []colSpec{lookup("parentpositionid", "ParentPositionId", "Parent Position", "Übergeordnete Position", "position")}},
	{name: "socialprofile", schema: "SocialProfile", otc: 99, en: "Social Profile", enPl: "Social Profiles", de: "Soziales Profil", dePl: "Soziale Profile", primaryName: "profilename", flags: fUser, introduced: "7.0.0.0", primaryNameLabel: [2]string{"Profile Name", "Profilname"}, extras: []colSpec{picklist("community", "Community", "Social Channel", "Sozialer Kanal"), integer("influencescore", "InfluenceScore", "Influence Score", "Einflussbewertung", "0", "100")}},
	{name: "fieldsecurityprofile", schema: "FieldSecurityProfile", otc: 1200, en: "Field Security Profile", enPl: "Field Security Profiles", de: "Feldsicherheitsprofil", dePl: "Feldsicherheitsprofile", primaryName: "name", flags: fOrg | fAudit | fNoState, extras: []colSpec{memo("description", "Description", "Description", "Beschreibung", 2000)}},
	{name: "queue", schema: "Queue", otc: 2020, en: "Queue", enPl: "Queues", de: "Warteschlange", dePl: "Warteschlangen", primaryName: "name", flags: fUser | fAudit, extras: []colSpec{str("emailaddress", "EMailAddress", "Incoming Email", "Eingehende E-Mail", 100).format("Email"), picklist("queueviewtype", "QueueViewType", "Type", "Typ"), memo("description", "Description", "Description", "Beschreibung", 2000)}},
	{name: "template", schema: "Template", otc: 2010, en: "Email Template", enPl: "Email Templates", de: "E-Mail-Vorlage", dePl: "E-Mail-Vorlagen", primaryName: "title", flags: fUser | fNoState, extras: []colSpec{memo("body", "Body", "Body", "Text", 1073741823), str("templatetypecode", "TemplateTypeCode", "Template Type", "Vorlagentyp", 100)}},
	{name: "territory", schema: "Territory", otc: 2013, en: "Territory", enPl: "Territories", de: "Gebiet", dePl: "Gebiete", primaryName: "name", flags: fOrg | fNoState, extras: []colSpec{lookup("managerid", "ManagerId", "Manager", "Manager", "systemuser")}},
	{name: "queueitem", schema: "QueueItem", otc: 2029, en: "Queue Item", enPl: "Queue Items", de: "Warteschlangenelement", dePl: "Warteschlangenelemente", primaryName: "title", flags: fOrg, extras: []colSpec{lookup("queueid", "QueueId", "Queue", "Warteschlange", "queue"), dateTime("enteredon", "EnteredOn", "Entered Queue", "In Warteschlange seit")}},
	{name: "connection", schema: "Connection", otc: 3234, en: "Connection", enPl: "Connections", de: "Verbindung", dePl: "Verbindungen", primaryName: "name", flags: fUser, extras: []colSpec{lookup("record1id", "Record1Id", "Connected From", "Verbunden von", "account", "contact", "systemuser"), lookup("record2id", "Record2Id", "Connected To", "Verbunden mit", "account", "contact", "systemuser")}},
	{name: "equipment", schema: "Equipment", otc: 4000, en: "Facility/Equipment", enPl: "Facilities/Equipment", de: "Einrichtung/Ausrüstung", dePl: "Einrichtungen/Ausrüstung", primaryName: "name", flags: fBusiness | fNoState, extras: []colSpec{str("emailaddress", "EMailAddress", "Primary Email", "Primäre E-Mail", 100).format("Email"), boolean("isdisabled", "IsDisabled", "Is Disabled", "Ist deaktiviert")}},
	{name: "service", schema: "Service", otc: 4001, en: "Service", enPl: "Services", de: "Service", dePl: "Services", primaryName: "name", flags: fBusiness | fAudit | fNoState, extras: []colSpec{integer("duration", "Duration", "Initial Status Duration", "Anfangsstatusdauer", "0", "2147483647").format("Duration"), boolean("isschedulable", "IsSchedulable", "Is Schedulable", "Planbar")}},
	{name: "calendar", schema: "Calendar", otc: 4003, en: "Calendar", enPl: "Calendars", de: "Kalender", dePl: "Kalender", primaryName: "name", flags: fBusiness | fLocked | fNoState, extras: []colSpec{picklist("type", "Type", "Calendar Type", "Kalendertyp"), memo("description", "Description", "Description", "Beschreibung", 2000)}},
	{name: "site", schema: "Site", otc: 4009, en: "Site", enPl: "Sites", de: "Standort", dePl: "Standorte", primaryName: "name", flags: fOrg | fNoState, extras: []colSpec{str("address1_city", "Address1_City", "City", "Ort", 80), integer("timezonecode", "TimeZoneCode", "Time Zone", "Zeitzone", "-1", "2147483647")}},
	{name: "activitypointer", schema: "ActivityPointer", otc: 4200, en: "Activity", enPl: "Activities", de: "Aktivität", dePl: "Aktivitäten", primaryName: "subject", flags: fUser | fActivity | fLocked},
	{name: "appointment", schema: "Appointment", otc: 4201, en: "Appointment", enPl: "Appointments", de: "Termin", dePl: "Termine", primaryName: "subject", flags: fUser | fActivity | fAudit, extras: []colSpec{str("location", "Location", "Location", "Ort", 200), boolean("isalldayevent", "IsAllDayEvent", "All Day Event", "Ganztägiges Ereignis")}},
	{name: "email", schema: "Email", otc: 4202, en: "Email", enPl: "Email Messages", de: "E-Mail", dePl: "E-Mail-Nachrichten", primaryName: "subject", flags: fUser | fActivity | fAudit, extras: []colSpec{str("sender", "Sender", "From", "Von", 250), boolean("directioncode", "DirectionCode", "Direction", "Richtung")}},
	{name: "fax", schema: "Fax", otc: 4204, en: "Fax", enPl: "Faxes", de: "Fax", dePl: "Faxe", primaryName: "subject", flags: fUser | fActivity | fAudit, extras: []colSpec{str("faxnumber", "FaxNumber", "Fax Number", "Faxnummer", 200), integer("numberofpages", "NumberOfPages", "Number of Pages", "Seitenanzahl", "0", "1000000000")}},
	{name: "incidentresolution", schema: "IncidentResolution", otc: 4206, en: "Case Resolution", enPl: "Case Resolutions", de: "Fallauflösung", dePl: "Fallauflösungen", primaryName: "subject", flags: fUser | fActivity, extras: []colSpec{lookup("incidentid", "IncidentId", "Case", "Fall", "incident"), integer("timespent", "TimeSpent", "Time Spent", "Aufgewendete Zeit", "0", "2147483647")}},
	{name: "letter", schema: "Letter", otc: 4207, en: "Letter", enPl: "Letters", de: "Brief", dePl: "Briefe", primaryName: "subject", flags: fUser | fActivity | fAudit, extras: []colSpec{str("address", "Address", "Address", "Adresse", 200)}},
	{name: "opportunityclose", schema: "OpportunityClose", otc: 4208, en: "Opportunity Close", enPl: "Opportunity Close Activities", de: "Verkaufschancenabschluss", dePl: "Verkaufschancenabschlüsse", primaryName: "subject", flags: fUser | fActivity, extras: []colSpec{lookup("opportunityid", "OpportunityId", "Opportunity", "Verkaufschance", "opportunity"), money("actualrevenue", "ActualRevenue", "Actual Revenue", "Tatsächlicher Umsatz", "-1000000000000.0", "1000000000000.0")}},
	{name: "orderclose", schema: "OrderClose", otc: 4209, en: "Order Close", enPl: "Order Close Activities", de: "Auftragsabschluss", dePl: "Auftragsabschlüsse", primaryName: "subject", flags: fUser | fActivity, extras: []colSpec{lookup("salesorderid", "SalesOrderId", "Order", "Auftrag", "salesorder")}},
	{name: "phonecall", schema: "PhoneCall", otc: 4210, en: "Phone Call", enPl: "Phone Calls", de: "Telefonanruf", dePl: "Telefonanrufe", primaryName: "subject", flags: fUser | fActivity | fAudit, extras: []colSpec{str("phonenumber", "PhoneNumber", "Phone Number", "Telefonnummer", 200).format("Phone"), boolean("directioncode", "DirectionCode", "Direction", "Richtung")}},
	{name: "quoteclose", schema: "QuoteClose", otc: 4211, en: "Quote Close", enPl: "Quote Close Activities", de: "Angebotsabschluss", dePl: "Angebotsabschlüsse", primaryName: "subject", flags: fUser | fActivity, extras: []colSpec{lookup("quoteid", "QuoteId", "Quote", "Angebot", "quote")}},
	{name: "task", schema: "Task", otc: 4212, en: "Task", enPl: "Tasks", de: "Aufgabe", dePl: "Aufgaben", primaryName: "subject", flags: fUser | fActivity | fAudit, extras: []colSpec{integer("percentcomplete", "PercentComplete", "Percent Complete", "Prozent abgeschlossen", "0", "100")}},
	{name: "serviceappointment", schema: "ServiceAppointment", otc: 4214, en: "Service Activity", enPl: "Service Activities", de: "Serviceaktivität", dePl: "Serviceaktivitäten", primaryName: "subject", flags: fUser | fActivity | fAudit, extras: []colSpec{lookup("serviceid", "ServiceId", "Service", "Service", "service"), lookup("siteid", "SiteId", "Site", "Standort", "site")}},
	{name: "socialactivity", schema: "SocialActivity", otc: 4216, en: "Social Activity", enPl: "Social Activities", de: "Soziale Aktivität", dePl: "Soziale Aktivitäten", primaryName: "subject", flags: fUser | fActivity, introduced: "7.0.0.0", extras: []colSpec{picklist("community", "Community", "Social Channel", "Sozialer Kanal"), str("postauthorname", "PostAuthorName", "Post Author", "Beitragsautor", 100)}},
	{name: "recurringappointmentmaster", schema: "RecurringAppointmentMaster", otc: 4251, en: "Recurring Appointment", enPl: "Recurring Appointments", de: "Wiederkehrender Termin", dePl: "Wiederkehrende Termine", primaryName: "subject", flags: fUser | fActivity, extras: []colSpec{integer("interval", "Interval", "Interval", "Intervall", "1", "1000"), dateTime("patternstartdate", "PatternStartDate", "Recurrence Start", "Serienbeginn").dateOnly()}},
	{name: "list", schema: "List", otc: 4300, en: "Marketing List", enPl: "Marketing Lists", de: "Marketingliste", dePl: "Marketinglisten", primaryName: "listname", flags: fUser | fAudit, primaryNameLabel: [2]string{"Name", "Name"}, extras: []colSpec{picklist("createdfromcode", "CreatedFromCode", "Marketing List Member Type", "Mitgliedstyp"), integer("membercount", "MemberCount", "Members Count", "Mitgliederanzahl", "0", "2147483647"), boolean("type", "Type", "Type", "Typ"), money("cost", "Cost", "Cost", "Kosten", "0.0", "1000000000000.0")}},
	{name: "campaign", schema: "Campaign", otc: 4400, en: "Campaign", enPl: "Campaigns", de: "Kampagne", dePl: "Kampagnen", primaryName: "name", flags: fUser | fAudit, extras: campaignColumns},
	{name: "campaignresponse", schema: "CampaignResponse", otc: 4401, en: "Campaign Response", enPl: "Campaign Responses", de: "Kampagnenreaktion", dePl: "Kampagnenreaktionen", primaryName: "subject", flags: fUser | fActivity | fAudit, extras: []colSpec{picklist("responsecode", "ResponseCode", "Response Code", "Reaktionscode"), str("companyname", "CompanyName", "Company Name", "Firmenname", 100)}},
	{name: "campaignactivity", schema: "CampaignActivity", otc: 4402, en: "Campaign Activity", enPl: "Campaign Activities", de: "Kampagnenaktivität", dePl: "Kampagnenaktivitäten", primaryName: "subject", flags: fUser | fActivity | fAudit, extras: []colSpec{money("budgetedcost", "BudgetedCost", "Budget Allocated", "Zugewiesenes Budget", "0.0", "1000000000000.0"), picklist("channeltypecode", "ChannelTypeCode", "Channel", "Kanal")}},
	{name: "bulkoperation", schema: "BulkOperation", otc: 4406, en: "Quick Campaign", enPl: "Quick Campaigns", de: "Schnellkampagne", dePl: "Schnellkampagnen", primaryName: "subject", flags: fUser | fActivity | fAudit, extras: []colSpec{integer("successcount", "SuccessCount", "Success Count", "Anzahl erfolgreich", "0", "2147483647"), integer("failurecount", "FailureCount", "Failure Count", "Anzahl fehlgeschlagen", "0", "2147483647")}},
	{name: "duplicaterule", schema: "DuplicateRule", otc: 4414, en: "Duplicate Detection Rule", enPl: "Duplicate Detection Rules", de: "Duplikaterkennungsregel", dePl: "Duplikaterkennungsregeln", primaryName: "name", flags: fUser, extras: []colSpec{str("baseentityname", "BaseEntityName", "Base Record Type", "Basisdatensatztyp", 100), boolean("iscasesensitive", "IsCaseSensitive", "Case-sensitive", "Groß-/Kleinschreibung beachten")}},
	{name: "report", schema: "Report", otc: 9100, en: "Report", enPl: "Reports", de: "Bericht", dePl: "Berichte", primaryName: "name", flags: fUser | fAudit | fNoState, extras: []colSpec{str("filename", "FileName", "File Name", "Dateiname", 255), picklist("reporttypecode", "ReportTypeCode", "Report Type", "Berichtstyp"), memo("description", "Description", "Description", "Beschreibung", 2000)}},
	{name: "transactioncurrency", schema: "TransactionCurrency", otc: 9105, en: "Currency", enPl: "Currencies", de: "Währung", dePl: "Währungen", primaryName: "currencyname", flags: fOrg, primaryNameLabel: [2]string{"Currency Name", "Währungsname"}, extras: []colSpec{str("isocurrencycode", "ISOCurrencyCode", "Currency Code", "Währungscode", 5), decimal("exchangerate", "ExchangeRate", "Exchange Rate", "Wechselkurs", 10, "0.0000000001", "100000000000"), integer("currencyprecision", "CurrencyPrecision", "Currency Precision", "Währungsgenauigkeit", "0", "4")}},
	{name: "sharepointdocumentlocation", schema: "SharePointDocumentLocation", otc: 9508, en: "Document Location", enPl: "Document Locations", de: "Dokumentspeicherort", dePl: "Dokumentspeicherorte", primaryName: "name", flags: fUser, extras: []colSpec{str("relativeurl", "RelativeUrl", "Relative URL", "Relative URL", 255), str("absoluteurl", "AbsoluteURL", "Absolute URL", "Absolute URL", 2000).format("Url")}},
	{name: "goal", schema: "Goal", otc: 9600, en: "Goal", enPl: "Goals", de: "Ziel", dePl: "Ziele", primaryName: "title", flags: fUser | fAudit, extras: []colSpec{money("targetmoney", "TargetMoney", "Target (Money)", "Ziel (Geld)", "-100000000000000.0", "100000000000000.0"), decimal("percentage", "Percentage", "Percentage Achieved", "Erreichter Prozentsatz", 2, "-100000000000", "100000000000"), dateTime("goalstartdate", "GoalStartDate", "From", "Von").dateOnly()}},
	{name: "mailbox", schema: "Mailbox", otc: 9606, en: "Mailbox", enPl: "Mailboxes", de: "Postfach", dePl: "Postfächer", primaryName: "name", flags: fUser, introduced: "6.0.0.0", extras: []colSpec{str("emailaddress", "EmailAddress", "Email Address", "E-Mail-Adresse", 100).format("Email"), boolean("isforwardmailbox", "IsForwardMailbox", "Is Forward Mailbox", "Ist Weiterleitungspostfach")}},
	{name: "entitlement", schema: "Entitlement", otc: 9700, en: "Entitlement", enPl: "Entitlements", de: "Berechtigung", dePl: "Berechtigungen", primaryName: "name", flags: fUser | fAudit, introduced: "7.1.0.0", extras: []colSpec{customer("customerid", "CustomerId", "Customer", "Kunde"), decimal("totalterms", "TotalTerms", "Total Terms", "Gesamtbedingungen", 5, "0", "1000000000"), dateTime("startdate", "StartDate", "Start Date", "Startdatum").dateOnly()}},
	{name: "sla", schema: "SLA", otc: 9750, en: "SLA", enPl: "SLAs", de: "SLA", dePl: "SLAs", primaryName: "name", flags: fUser | fAudit, introduced: "6.1.0.0", extras: []colSpec{str("applicablefrom", "ApplicableFrom", "Applicable From", "Anwendbar ab", 100), boolean("isdefault", "IsDefault", "Is Default", "Ist Standard")}},
	{name: "knowledgearticle", schema: "KnowledgeArticle", otc: 9953, en: "Knowledge Article", enPl: "Knowledge Articles", de: "Wissensartikel", dePl: "Wissensartikel", primaryName: "title", flags: fUser | fAudit, introduced: "8.0.0.0", extras: []colSpec{str("articlepublicnumber", "ArticlePublicNumber", "Article Public Number", "Öffentliche Artikelnummer", 100), memo("content", "Content", "Content", "Inhalt", 1073741823), integer("majorversionnumber", "MajorVersionNumber", "Major Version Number", "Hauptversionsnummer", "0", "2147483647"), boolean("isprimary", "IsPrimary", "Is Primary", "Ist primär")}},
	{name: "feedback", schema: "Feedback", otc: 9958, en: "Feedback", enPl: "Feedback", de: "Feedback", dePl: "Feedback", primaryName: "title", flags: fUser | fAudit, introduced: "8.1.0.0", entitySetName: "feedback", extras: []colSpec{integer("rating", "Rating", "Rating", "Bewertung", "0", "10"), memo("comments", "Comments", "Comments", "Kommentare", 1000)}},
}

// customTables are the environment's unmanaged custom tables.
var customTables = []tableSpec{
	{name: "new_project", schema: "new_Project", otc: 10000, en: "Project", enPl: "Projects", de: "Projekt", dePl: "Projekte", primaryName: "new_name", flags: fUser | fCustom, extras: []colSpec{
		str("new_code", "new_Code", "Project Code", "Projektcode", 20),
		memo("new_description", "new_Description", "Description", "Beschreibung", 4000),
		money("new_budget", "new_Budget", "Budget", "Budget", "-922337203685477.0", "922337203685477.0"),
		dateTime("new_startdate", "new_StartDate", "Start Date", "Startdatum").dateOnly(),
		integer("new_score", "new_Score", "Score", "Punktzahl", "-2147483648", "2147483647"),
		decimal("new_rating", "new_Rating", "Rating", "Bewertung", 2, "-100000000000", "100000000000"),
		boolean("new_isconfidential", "new_IsConfidential", "Confidential", "Vertraulich"),
		picklist("new_phase", "new_Phase", "Phase", "Phase"),
		lookup("new_accountid", "new_AccountId", "Account", "Firma", "account"),
	}},
	{name: "new_inspection", schema: "new_Inspection", otc: 10001, en: "Inspection", enPl: "Inspections", de: "Inspektion", dePl: "Inspektionen", primaryName: "new_name", flags: fUser | fCustom, extras: []colSpec{ //nolint:misspell // German label
		dateTime("new_inspectedon", "new_InspectedOn", "Inspected On", "Inspiziert am"),
		picklist("new_result", "new_Result", "Result", "Ergebnis"),
		lookup("new_projectid", "new_ProjectId", "Project", "Projekt", "new_project"),
		boolean("new_passed", "new_Passed", "Passed", "Bestanden"),
		memo("new_notes", "new_Notes", "Notes", "Notizen", 10000),
		decimal("new_deviation", "new_Deviation", "Deviation", "Abweichung", 4, "-100000000000", "100000000000"),
	}},
	{name: "new_auditfinding", schema: "new_AuditFinding", otc: 10002, en: "Audit Finding", enPl: "Audit Findings", de: "Prüfungsfeststellung", dePl: "Prüfungsfeststellungen", primaryName: "new_name", flags: fUser | fCustom, extras: []colSpec{
		picklist("new_severity", "new_Severity", "Severity", "Schweregrad"),
		lookup("new_inspectionid", "new_InspectionId", "Inspection", "Inspektion", "new_inspection"), //nolint:misspell // German label
		money("new_amount", "new_Amount", "Amount at Risk", "Risikobetrag", "0.0", "1000000000000.0"),
		boolean("new_closed", "new_Closed", "Closed", "Geschlossen"),
		memo("new_details", "new_Details", "Details", "Details", 10000),
		str("new_reference", "new_Reference", "Reference", "Referenz", 100),
	}},
	{name: "new_controltest", schema: "new_ControlTest", otc: 10003, en: "Control Test", enPl: "Control Tests", de: "Kontrolltest", dePl: "Kontrolltests", primaryName: "new_name", flags: fOrg | fCustom, extras: []colSpec{
		dateTime("new_testedon", "new_TestedOn", "Tested On", "Getestet am").dateOnly(),
		picklist("new_outcome", "new_Outcome", "Outcome", "Ergebnis"),
		integer("new_samplesize", "new_SampleSize", "Sample Size", "Stichprobengröße", "0", "100000"),
		memo("new_evidence", "new_Evidence", "Evidence", "Nachweis", 100000),
	}},
}

var accountColumns = []colSpec{
	str("accountnumber", "AccountNumber", "Account Number", "Kontonummer", 20),
	str("telephone1", "Telephone1", "Main Phone", "Haupttelefon", 50).format("Phone"),
	str("emailaddress1", "EMailAddress1", "Email", "E-Mail", 100).format("Email"),
	str("websiteurl", "WebSiteURL", "Website", "Website", 200).format("Url"),
	money("revenue", "Revenue", "Annual Revenue", "Jahresumsatz", "0.0", "100000000000000.0"),
	integer("numberofemployees", "NumberOfEmployees", "Number of Employees", "Anzahl Mitarbeiter", "0", "1000000000"),
	boolean("creditonhold", "CreditOnHold", "Credit Hold", "Kreditsperre"),
	picklist("industrycode", "IndustryCode", "Industry", "Branche"),
	memo("description", "Description", "Description", "Beschreibung", 2000),
	lookup("primarycontactid", "PrimaryContactId", "Primary Contact", "Primärer Kontakt", "contact"),
	decimal("exchangerate", "ExchangeRate", "Exchange Rate", "Wechselkurs", 10, "0.0000000001", "100000000000"),
	lookup("transactioncurrencyid", "TransactionCurrencyId", "Currency", "Währung", "transactioncurrency"),
	dateTime("lastusedincampaign", "LastUsedInCampaign", "Last Date Included in Campaign", "Zuletzt in Kampagne verwendet"),
}

var contactColumns = []colSpec{
	str("firstname", "FirstName", "First Name", "Vorname", 50),
	str("lastname", "LastName", "Last Name", "Nachname", 50).required("ApplicationRequired"),
	str("emailaddress1", "EMailAddress1", "Email", "E-Mail", 100).format("Email"),
	str("telephone1", "Telephone1", "Business Phone", "Telefon (geschäftlich)", 50).format("Phone"),
	str("jobtitle", "JobTitle", "Job Title", "Position", 100),
	dateTime("birthdate", "BirthDate", "Birthday", "Geburtstag").dateOnly(),
	customer("parentcustomerid", "ParentCustomerId", "Company Name", "Firmenname"),
	boolean("donotemail", "DoNotEMail", "Do not allow Emails", "Keine E-Mails zulassen"),
	picklist("gendercode", "GenderCode", "Gender", "Geschlecht"),
	memo("description", "Description", "Description", "Beschreibung", 2000),
	money("annualincome", "AnnualIncome", "Annual Income", "Jahreseinkommen", "0.0", "100000000000000.0"),
}

var leadColumns = []colSpec{
	str("firstname", "FirstName", "First Name", "Vorname", 50),
	str("lastname", "LastName", "Last Name", "Nachname", 50),
	str("companyname", "CompanyName", "Company Name", "Firmenname", 100),
	str("emailaddress1", "EMailAddress1", "Email", "E-Mail", 100).format("Email"),
	picklist("leadsourcecode", "LeadSourceCode", "Lead Source", "Leadquelle"),
	money("budgetamount", "BudgetAmount", "Budget Amount", "Budgetbetrag", "0.0", "100000000000000.0"),
	integer("numberofemployees", "NumberOfEmployees", "No. of Employees", "Anzahl Mitarbeiter", "0", "1000000"),
	memo("description", "Description", "Description", "Beschreibung", 2000),
}

var opportunityColumns = []colSpec{
	money("estimatedvalue", "EstimatedValue", "Est. Revenue", "Gesch. Umsatz", "-922337203685477.0", "922337203685477.0"),
	dateTime("estimatedclosedate", "EstimatedCloseDate", "Est. Close Date", "Gesch. Abschlussdatum").dateOnly(),
	integer("closeprobability", "CloseProbability", "Probability", "Wahrscheinlichkeit", "0", "100"),
	customer("customerid", "CustomerId", "Potential Customer", "Potenzieller Kunde"),
	lookup("parentaccountid", "ParentAccountId", "Account", "Firma", "account"),
	picklist("opportunityratingcode", "OpportunityRatingCode", "Rating", "Bewertung"),
	boolean("isrevenuesystemcalculated", "IsRevenueSystemCalculated", "Revenue", "Umsatz"),
	memo("description", "Description", "Description", "Beschreibung", 2000),
}

var incidentColumns = []colSpec{
	str("ticketnumber", "TicketNumber", "Case Number", "Fallnummer", 100),
	customer("customerid", "CustomerId", "Customer", "Kunde").required("SystemRequired"),
	picklist("prioritycode", "PriorityCode", "Priority", "Priorität"),
	picklist("caseorigincode", "CaseOriginCode", "Origin", "Ursprung"),
	dateTime("escalatedon", "EscalatedOn", "Escalated On", "Eskaliert am"),
	boolean("isescalated", "IsEscalated", "Is Escalated", "Ist eskaliert"),
	lookup("productid", "ProductId", "Product", "Produkt", "product"),
	memo("description", "Description", "Description", "Beschreibung", 2000),
}

var systemUserColumns = []colSpec{
	str("domainname", "DomainName", "User Name", "Benutzername", 1024).required("SystemRequired"),
	str("internalemailaddress", "InternalEMailAddress", "Primary Email", "Primäre E-Mail", 100).format("Email"),
	boolean("isdisabled", "IsDisabled", "Status", "Status"),
	lookup("businessunitid", "BusinessUnitId", "Business Unit", "Unternehmenseinheit", "businessunit"),
	str("title", "Title", "Title", "Titel", 128),
	picklist("accessmode", "AccessMode", "Access Mode", "Zugriffsmodus"),
	str("azureactivedirectoryobjectid", "AzureActiveDirectoryObjectId", "Azure AD Object ID", "Azure AD-Objekt-ID", 100),
}

var productColumns = []colSpec{
	str("productnumber", "ProductNumber", "Product ID", "Produkt-ID", 100),
	money("price", "Price", "List Price", "Listenpreis", "0.0", "1000000000000.0"),
	decimal("stockweight", "StockWeight", "Stock Weight", "Lagergewicht", 2, "0", "1000000000"),
	integer("quantitydecimal", "QuantityDecimal", "Decimals Supported", "Unterstützte Dezimalstellen", "0", "5"),
	lookup("defaultuomid", "DefaultUoMId", "Default Unit", "Standardeinheit", "uom"),
	picklist("producttypecode", "ProductTypeCode", "Product Type", "Produkttyp"),
	memo("description", "Description", "Description", "Beschreibung", 2000),
}

var campaignColumns = []colSpec{
	money("budgetedcost", "BudgetedCost", "Budget Allocated", "Zugewiesenes Budget", "0.0", "1000000000000.0"),
	money("expectedrevenue", "ExpectedRevenue", "Estimated Revenue", "Geschätzter Umsatz", "0.0", "1000000000000.0"),
	dateTime("actualstart", "ActualStart", "Actual Start", "Tatsächlicher Beginn").dateOnly(),
	picklist("typecode", "TypeCode", "Campaign Type", "Kampagnentyp"),
	boolean("istemplate", "IsTemplate", "Template", "Vorlage"),
	memo("description", "Description", "Description", "Beschreibung", 2000),
}

var lineItemColumns = []colSpec{
	decimal("quantity", "Quantity", "Quantity", "Menge", 5, "-100000000000", "100000000000"),
	money("priceperunit", "PricePerUnit", "Price Per Unit", "Preis pro Einheit", "-100000000000000.0", "100000000000000.0"),
	money("extendedamount", "ExtendedAmount", "Extended Amount", "Erweiterter Betrag", "-100000000000000.0", "100000000000000.0"),
	lookup("productid", "ProductId", "Existing Product", "Vorhandenes Produkt", "product"),
	integer("lineitemnumber", "LineItemNumber", "Line Item Number", "Positionsnummer", "0", "1000000000"),
}

func salesDocumentColumns(numberName, numberSchema, en, de string) []colSpec {
	return []colSpec{
		str(numberName, numberSchema, en, de, 100).required("SystemRequired"),
		customer("customerid", "CustomerId", "Customer", "Kunde"),
		lookup("pricelevelid", "PriceLevelId", "Price List", "Preisliste", "pricelevel"),
		money("totalamount", "TotalAmount", "Total Amount", "Gesamtbetrag", "-922337203685477.0", "922337203685477.0"),
		money("freightamount", "FreightAmount", "Freight Amount", "Frachtbetrag", "0.0", "100000000000000.0"),
		decimal("discountpercentage", "DiscountPercentage", "Quote Discount (%)", "Rabatt (%)", 2, "0", "100"),
		boolean("ispricelocked", "IsPriceLocked", "Prices Locked", "Preise gesperrt"),
		memo("description", "Description", "Description", "Beschreibung", 2000),
	}
}

var activityColumns = []colSpec{
	lookup("regardingobjectid", "RegardingObjectId", "Regarding", "Bezug", "account", "contact", "lead", "opportunity", "incident"),
	dateTime("scheduledstart", "ScheduledStart", "Start Date", "Startdatum"),
	dateTime("scheduledend", "ScheduledEnd", "Due Date", "Fälligkeitsdatum"),
	integer("actualdurationminutes", "ActualDurationMinutes", "Actual Duration", "Tatsächliche Dauer", "0", "2147483647").format("Duration"),
	picklist("prioritycode", "PriorityCode", "Priority", "Priorität"),
	boolean("isbilled", "IsBilled", "Is Billed", "Abgerechnet"),
	memo("description", "Description", "Description", "Beschreibung", 1048576),
}

// colSpec is one column of the compact tables.
type colSpec struct {
	typ            string // attrTypes key
	name, schema   string
	en, de         string
	maxLength      int
	fmt            string
	min, max       string // raw JSON numbers
	precision      int
	targets        []string
	attributeOf    string
	dateOnlyFormat bool
	requiredLevel  string
	// audit: nil means "default for the table"; notAuditable: the column
	// cannot be audited (Value false, CanBeChanged false).
	notAuditable bool
	auditOff     bool
	primaryID    bool
	primaryName  bool
	readOnly     bool // not valid for create/update (system columns)
	virtual      bool // a logical name column (AttributeOf set)
}

func str(name, schema, en, de string, maxLength int) colSpec {
	return colSpec{typ: "String", name: name, schema: schema, en: en, de: de, maxLength: maxLength}
}

func memo(name, schema, en, de string, maxLength int) colSpec {
	return colSpec{typ: "Memo", name: name, schema: schema, en: en, de: de, maxLength: maxLength, auditOff: true}
}

func integer(name, schema, en, de, min, max string) colSpec {
	return colSpec{typ: "Integer", name: name, schema: schema, en: en, de: de, min: min, max: max}
}

func decimal(name, schema, en, de string, precision int, min, max string) colSpec {
	return colSpec{typ: "Decimal", name: name, schema: schema, en: en, de: de, precision: precision, min: min, max: max}
}

func money(name, schema, en, de, min, max string) colSpec {
	return colSpec{typ: "Money", name: name, schema: schema, en: en, de: de, precision: 2, min: min, max: max}
}

func boolean(name, schema, en, de string) colSpec {
	return colSpec{typ: "Boolean", name: name, schema: schema, en: en, de: de}
}

func picklist(name, schema, en, de string) colSpec {
	return colSpec{typ: "Picklist", name: name, schema: schema, en: en, de: de}
}

func dateTime(name, schema, en, de string) colSpec {
	return colSpec{typ: "DateTime", name: name, schema: schema, en: en, de: de}
}

func lookup(name, schema, en, de string, targets ...string) colSpec {
	return colSpec{typ: "Lookup", name: name, schema: schema, en: en, de: de, targets: targets}
}

func customer(name, schema, en, de string) colSpec {
	return colSpec{typ: "Customer", name: name, schema: schema, en: en, de: de, targets: []string{"account", "contact"}}
}

func (c colSpec) format(f string) colSpec       { c.fmt = f; return c }
func (c colSpec) dateOnly() colSpec             { c.dateOnlyFormat = true; return c }
func (c colSpec) required(level string) colSpec { c.requiredLevel = level; return c }
func (c colSpec) system() colSpec               { c.readOnly = true; return c }
func (c colSpec) noAudit() colSpec              { c.notAuditable = true; return c }

// tableColumns lists every column of a table: system columns, the
// table-specific ones, and a virtual name column after each lookup.
func tableColumns(t tableSpec) []colSpec {
	pk := t.name + "id"
	if t.has(fActivity) {
		pk = "activityid"
	}
	var cols []colSpec
	cols = append(cols, colSpec{typ: "Uniqueidentifier", name: pk, schema: schemaOfID(t, pk), en: t.en, de: t.de, primaryID: true, notAuditable: true, requiredLevel: "SystemRequired"})
	pn := t.primaryNameLabel
	if pn[0] == "" {
		pn = primaryNameLabels[t.primaryName]
	}
	if pn[0] == "" {
		pn = [2]string{"Name", "Name"}
	}
	maxLen := 100
	if t.primaryName == "subject" || t.primaryName == "title" {
		maxLen = 200
	}
	name := str(t.primaryName, schemaOfName(t), pn[0], pn[1], maxLen)
	name.primaryName = true
	name.requiredLevel = "ApplicationRequired"
	if t.primaryName == "fullname" {
		name.readOnly = true
		name.requiredLevel = "None"
	}
	cols = append(cols, name)
	cols = append(cols,
		dateTime("createdon", "CreatedOn", "Created On", "Erstellt am").system(),
		lookup("createdby", "CreatedBy", "Created By", "Erstellt von", "systemuser").system(),
		dateTime("modifiedon", "ModifiedOn", "Modified On", "Geändert am").system().noAudit(),
		lookup("modifiedby", "ModifiedBy", "Modified By", "Geändert von", "systemuser").system().noAudit(),
		dateTime("overriddencreatedon", "OverriddenCreatedOn", "Record Created On", "Datensatz erstellt am").dateOnly(),
		integer("importsequencenumber", "ImportSequenceNumber", "Import Sequence Number", "Importsequenznummer", "-2147483648", "2147483647"),
	)
	switch {
	case t.has(fUser):
		owner := lookup("ownerid", "OwnerId", "Owner", "Besitzer", "systemuser", "team").required("SystemRequired")
		owner.typ = "Owner"
		cols = append(cols, owner,
			lookup("owningbusinessunit", "OwningBusinessUnit", "Owning Business Unit", "Besitzende Unternehmenseinheit", "businessunit").system().noAudit(),
			lookup("owninguser", "OwningUser", "Owning User", "Besitzender Benutzer", "systemuser").system().noAudit(),
			lookup("owningteam", "OwningTeam", "Owning Team", "Besitzendes Team", "team").system().noAudit(),
		)
	case t.has(fOrg):
		cols = append(cols, lookup("organizationid", "OrganizationId", "Organization", "Organisation", "organization").system().noAudit())
	case t.has(fBusiness):
		if t.name != "businessunit" {
			cols = append(cols, lookup("owningbusinessunit", "OwningBusinessUnit", "Owning Business Unit", "Besitzende Unternehmenseinheit", "businessunit").system().noAudit())
		}
	}
	if !t.has(fNoState) {
		cols = append(cols,
			colSpec{typ: "State", name: "statecode", schema: "StateCode", en: "Status", de: "Status", requiredLevel: "SystemRequired"},
			colSpec{typ: "Status", name: "statuscode", schema: "StatusCode", en: "Status Reason", de: "Statusgrund"},
		)
	}
	if t.has(fActivity) {
		cols = append(cols, activityColumns...)
	}
	cols = append(cols, t.extras...)
	cols = append(cols, colSpec{typ: "BigInt", name: "versionnumber", schema: "VersionNumber", en: "Version Number", de: "Versionsnummer", readOnly: true, notAuditable: true})

	// A name column after each lookup, as Dataverse adds them.
	var out []colSpec
	seen := map[string]bool{}
	for _, c := range cols {
		if seen[c.name] {
			panic(fmt.Sprintf("catalogue: duplicate column %s.%s", t.name, c.name))
		}
		seen[c.name] = true
		out = append(out, c)
		if c.typ == "Lookup" || c.typ == "Owner" || c.typ == "Customer" {
			out = append(out, colSpec{typ: "String", name: c.name + "name", schema: c.schema + "Name", maxLength: 100, attributeOf: c.name, virtual: true, readOnly: true, notAuditable: true})
		}
	}
	return out
}

var primaryNameLabels = map[string][2]string{
	"name":     {"Name", "Name"},
	"fullname": {"Full Name", "Vollständiger Name"},
	"subject":  {"Subject", "Betreff"},
	"title":    {"Title", "Titel"},
	"new_name": {"Name", "Name"},
}

func schemaOfID(t tableSpec, pk string) string {
	if pk == "activityid" {
		return "ActivityId"
	}
	return t.schema + "Id"
}

func schemaOfName(t tableSpec) string {
	switch t.primaryName {
	case "fullname":
		return "FullName"
	case "subject":
		return "Subject"
	case "title":
		return "Title"
	case "new_name":
		return "new_name"
	}
	if t.primaryName == "name" {
		return "Name"
	}
	// e.g. quotedetailname -> QuoteDetailName
	return t.schema + "Name"
}

// plural forms an English plural the way Dataverse entity set names are.
func plural(s string) string {
	switch {
	case strings.HasSuffix(s, "y") && len(s) > 1 && !strings.ContainsRune("aeiou", rune(s[len(s)-2])):
		return s[:len(s)-1] + "ies"
	case strings.HasSuffix(s, "s") || strings.HasSuffix(s, "x"):
		return s + "es"
	}
	return s + "s"
}

// catalogueBuilder turns specs into definitions. Ids of standard tables and
// columns are derived from their names, so they are the same in every
// emulator (as in every real environment); custom ones come from a
// per-environment namespace.
type catalogueBuilder struct {
	standardNS uuid.UUID
	customNS   uuid.UUID
}

var standardMetadataNamespace = uuid.MustParse("5b0d6a1e-7c2f-4f43-9d57-d365a0d1e7a0")

func (b catalogueBuilder) id(t tableSpec, parts ...string) string {
	ns := b.standardNS
	if t.has(fCustom) {
		ns = b.customNS
	}
	return uuid.NewSHA1(ns, []byte(strings.Join(parts, "/"))).String()
}

func managed(value bool, canBeChanged bool, logicalName string) object {
	return object{{"Value", value}, {"CanBeChanged", canBeChanged}, {"ManagedPropertyLogicalName", logicalName}}
}

// label builds a Label in English and German; empty en gives an empty Label.
func (b catalogueBuilder) label(t tableSpec, owner, en, de string) object {
	if en == "" {
		return object{{"LocalizedLabels", []any{}}, {"UserLocalizedLabel", nil}}
	}
	isManaged := !t.has(fCustom)
	ll := func(text string, lang int) object {
		return object{
			{"Label", text},
			{"LanguageCode", lang},
			{"IsManaged", isManaged},
			{"MetadataId", b.id(t, "label", owner, fmt.Sprint(lang))},
			{"HasChanged", nil},
		}
	}
	return object{
		{"LocalizedLabels", []any{ll(en, 1033), ll(de, 1031)}},
		{"UserLocalizedLabel", ll(en, 1033)},
	}
}

// emit orders values by schema; a value with no schema entry is a
// programming error.
func emit(schema []propSpec, values map[string]any) rawObject {
	out := make(rawObject, 0, len(values))
	for _, p := range schema {
		if v, ok := values[p.name]; ok {
			out.add(p.name, v)
			delete(values, p.name)
		}
	}
	if len(values) > 0 {
		names := make([]string, 0, len(values))
		for n := range values {
			names = append(names, n)
		}
		sort.Strings(names)
		panic("catalogue: properties without schema: " + strings.Join(names, ", "))
	}
	return out
}

func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToLower(s[:1]) + s[1:]
}

func (b catalogueBuilder) entity(t tableSpec) *entityDef {
	custom := t.has(fCustom)
	version := t.introduced
	if version == "" {
		version = "5.0.0.0"
	}
	if custom {
		version = "1.0.0.0"
	}
	created := "1900-01-01T00:00:00Z"
	if custom {
		created = "2024-03-11T09:41:27Z"
	}
	set := t.entitySetName
	if set == "" {
		set = plural(t.name)
	}
	ownership := "None"
	switch {
	case t.has(fUser):
		ownership = "UserOwned"
	case t.has(fOrg):
		ownership = "OrganizationOwned"
	case t.has(fBusiness):
		ownership = "BusinessOwned"
	}
	cols := tableColumns(t)
	pk := cols[0].name
	sysLocked := !custom // managed properties of system tables that customizers cannot change
	activityMask := 0
	if t.has(fActivity) {
		activityMask = 1
	}
	entityID := b.id(t, "entity", t.name)
	values := map[string]any{
		"ActivityTypeMask":                   activityMask,
		"AutoCreateAccessTeams":              false,
		"AutoRouteToOwnerQueue":              false,
		"CanBeInCustomEntityAssociation":     managed(true, !sysLocked, "canbeincustomentityassociation"),
		"CanBeInManyToMany":                  managed(true, !sysLocked, "canbeinmanytomany"),
		"CanBePrimaryEntityInRelationship":   managed(true, !sysLocked, "canbeprimaryentityinrelationship"),
		"CanBeRelatedEntityInRelationship":   managed(true, !sysLocked, "canberelatedentityinrelationship"),
		"CanChangeHierarchicalRelationship":  managed(true, !sysLocked, "canchangehierarchicalrelationship"),
		"CanChangeTrackingBeEnabled":         managed(true, true, "canchangetrackingbeenabled"),
		"CanCreateAttributes":                managed(true, !sysLocked, "cancreateattributes"),
		"CanCreateCharts":                    managed(true, !sysLocked, "cancreatecharts"),
		"CanCreateForms":                     managed(true, !sysLocked, "cancreateforms"),
		"CanCreateViews":                     managed(true, !sysLocked, "cancreateviews"),
		"CanEnableSyncToExternalSearchIndex": managed(true, true, "canenablesynctoexternalsearchindex"),
		"CanModifyAdditionalSettings":        managed(true, true, "canmodifyadditionalsettings"),
		"CanTriggerWorkflow":                 true,
		"ChangeTrackingEnabled":              !t.has(fActivity) && !custom,
		"CollectionSchemaName":               plural(t.schema),
		"CreatedOn":                          created,
		"DataProviderId":                     nil,
		"DataSourceId":                       nil,
		"DaysSinceRecordLastModified":        0,
		"Description":                        b.label(t, "entity/"+t.name+"/Description", "Information about the "+lowerFirst(t.en)+" table.", "Informationen zur Tabelle „"+t.de+"“."),
		"DisplayCollectionName":              b.label(t, "entity/"+t.name+"/DisplayCollectionName", t.enPl, t.dePl),
		"DisplayName":                        b.label(t, "entity/"+t.name+"/DisplayName", t.en, t.de),
		"EnforceStateTransitions":            false,
		"EntityColor":                        "#0078D4",
		"EntityHelpUrl":                      nil,
		"EntityHelpUrlEnabled":               false,
		"EntitySetName":                      set,
		"ExternalCollectionName":             nil,
		"ExternalName":                       nil,
		"HasActivities":                      !t.has(fActivity) && t.has(fUser),
		"HasChanged":                         nil,
		"HasEmailAddresses":                  t.name == "account" || t.name == "contact" || t.name == "lead",
		"HasFeedback":                        t.has(fUser) && !t.has(fActivity),
		"HasNotes":                           !t.has(fNoState) || t.name == "systemuser",
		"IconLargeName":                      nil,
		"IconMediumName":                     nil,
		"IconSmallName":                      nil,
		"IconVectorName":                     nil,
		"IntroducedVersion":                  version,
		"IsActivity":                         t.has(fActivity),
		"IsActivityParty":                    t.name == "account" || t.name == "contact" || t.name == "lead" || t.name == "systemuser",
		"IsAuditEnabled":                     managed(t.has(fAudit), !t.has(fLocked), "canmodifyauditsettings"),
		"IsAvailableOffline":                 true,
		"IsBPFEntity":                        false,
		"IsBusinessProcessEnabled":           !t.has(fNoState),
		"IsChildEntity":                      false,
		"IsConnectionsEnabled":               managed(!t.has(fNoState), true, "canmodifyconnectionsettings"),
		"IsCustomEntity":                     custom,
		"IsCustomizable":                     managed(true, !sysLocked, "iscustomizable"),
		"IsDocumentManagementEnabled":        false,
		"IsDocumentRecommendationsEnabled":   false,
		"IsDuplicateDetectionEnabled":        managed(t.has(fUser) && !t.has(fActivity), true, "canmodifyduplicatedetectionsettings"),
		"IsEnabledForCharts":                 true,
		"IsEnabledForExternalChannels":       false,
		"IsEnabledForTrace":                  false,
		"IsImportable":                       true,
		"IsInteractionCentricEnabled":        false,
		"IsIntersect":                        false,
		"IsKnowledgeManagementEnabled":       false,
		"IsLogicalEntity":                    false,
		"IsMailMergeEnabled":                 managed(t.has(fUser) && !t.has(fActivity), true, "canmodifymailmergesettings"),
		"IsManaged":                          !custom,
		"IsMappable":                         managed(true, !sysLocked, "ismappable"),
		"IsMSTeamsIntegrationEnabled":        false,
		"IsOfflineInMobileClient":            managed(false, true, "canmodifymobileclientoffline"),
		"IsOneNoteIntegrationEnabled":        false,
		"IsOptimisticConcurrencyEnabled":     true,
		"IsPrivate":                          false,
		"IsQuickCreateEnabled":               t.has(fUser),
		"IsReadingPaneEnabled":               true,
		"IsReadOnlyInMobileClient":           managed(false, true, "canmodifymobileclientreadonly"),
		"IsRenameable":                       managed(true, !sysLocked, "isrenameable"),
		"IsRetentionEnabled":                 false,
		"IsRetrieveAuditEnabled":             false,
		"IsRetrieveMultipleAuditEnabled":     false,
		"IsSLAEnabled":                       t.name == "incident",
		"IsSolutionAware":                    false,
		"IsStateModelAware":                  !t.has(fNoState),
		"IsValidForAdvancedFind":             true,
		"IsValidForQueue":                    managed(t.name == "incident" || t.has(fActivity), true, "canmodifyqueuesettings"),
		"IsVisibleInMobile":                  managed(true, true, "canmodifymobilevisibility"),
		"IsVisibleInMobileClient":            managed(true, true, "canmodifymobileclientvisibility"),
		"LogicalCollectionName":              set,
		"LogicalName":                        t.name,
		"MetadataId":                         entityID,
		"MobileOfflineFilters":               "",
		"ModifiedOn":                         created,
		"ObjectTypeCode":                     t.otc,
		"OwnershipType":                      ownership,
		"PrimaryIdAttribute":                 pk,
		"PrimaryImageAttribute":              nil,
		"PrimaryNameAttribute":               t.primaryName,
		"RecurrenceBaseEntityLogicalName":    nil,
		"ReportViewName":                     "Filtered" + t.schema,
		"SchemaName":                         t.schema,
		"Settings":                           []any{},
		"SyncToExternalSearchIndex":          t.has(fAudit),
		"TableType":                          "Standard",
		"UsesBusinessDataLabelTable":         false,
	}
	e := &entityDef{
		logicalName: t.name,
		metadataID:  entityID,
		props:       emit(entitySchema, values),
		attrByName:  map[string]*attrDef{},
	}
	for i, c := range cols {
		a := b.attribute(t, c, i+1)
		e.attrs = append(e.attrs, a)
		e.attrByName[a.logicalName] = a
	}
	return e
}

func (b catalogueBuilder) attribute(t tableSpec, c colSpec, number int) *attrDef {
	custom := t.has(fCustom)
	at := attrTypeByKey(c.typ)
	version := t.introduced
	if version == "" {
		version = "5.0.0.0"
	}
	if custom {
		version = "1.0.0.0"
	}
	created := "1900-01-01T00:00:00Z"
	if custom {
		created = "2024-03-11T09:41:27Z"
	}
	auditValue, auditChangeable := true, true
	switch {
	case c.notAuditable:
		auditValue, auditChangeable = false, false
	case custom:
		auditValue = c.primaryName
	case c.auditOff:
		auditValue = false
	}
	required := c.requiredLevel
	if required == "" {
		required = "None"
	}
	id := b.id(t, "attribute", t.name, c.name)
	en, de := c.en, c.de
	descEn, descDe := "", ""
	switch {
	case c.primaryID:
		descEn = "Unique identifier of the " + strings.ToLower(t.en) + "."
		descDe = "Eindeutige ID des Datensatzes „" + t.de + "“."
	case en != "":
		descEn = "Shows the " + strings.ToLower(en) + " of the " + strings.ToLower(t.en) + "."
		descDe = "Zeigt „" + de + "“ des Datensatzes an."
	}
	var attributeOf any
	if c.attributeOf != "" {
		attributeOf = c.attributeOf
	}
	var sourceType any = 0
	if c.virtual {
		sourceType = nil
	}
	values := map[string]any{
		"AttributeOf":                 attributeOf,
		"AttributeType":               at.attributeType,
		"AttributeTypeName":           object{{"Value", at.typeName}},
		"AutoNumberFormat":            nil,
		"CanBeSecuredForCreate":       custom,
		"CanBeSecuredForRead":         custom,
		"CanBeSecuredForUpdate":       custom,
		"CanModifyAdditionalSettings": managed(true, true, "canmodifyadditionalsettings"),
		"ColumnNumber":                number,
		"CreatedOn":                   created,
		"DeprecatedVersion":           nil,
		"Description":                 b.label(t, "attribute/"+t.name+"/"+c.name+"/Description", descEn, descDe),
		"DisplayName":                 b.label(t, "attribute/"+t.name+"/"+c.name+"/DisplayName", en, de),
		"EntityLogicalName":           t.name,
		"ExternalName":                nil,
		"HasChanged":                  nil,
		"InheritsFrom":                nil,
		"IntroducedVersion":           version,
		"IsAuditEnabled":              managed(auditValue, auditChangeable, "canmodifyauditsettings"),
		"IsCustomAttribute":           custom,
		"IsCustomizable":              managed(true, custom, "iscustomizable"),
		"IsDataSourceSecret":          false,
		"IsFilterable":                !c.virtual,
		"IsGlobalFilterEnabled":       managed(false, true, "canmodifyglobalfiltersettings"),
		"IsLogical":                   c.virtual,
		"IsManaged":                   !custom,
		"IsPrimaryId":                 c.primaryID,
		"IsPrimaryName":               c.primaryName,
		"IsRenameable":                managed(!c.virtual, !c.virtual, "isrenameable"),
		"IsRequiredForForm":           c.primaryName,
		"IsRetrievable":               !c.virtual,
		"IsSearchable":                !c.virtual && c.typ != "Memo",
		"IsSecured":                   false,
		"IsSortableEnabled":           managed(false, true, "canmodifyissortablesettings"),
		"IsValidForAdvancedFind":      managed(!c.virtual, !c.virtual, "canmodifysearchsettings"),
		"IsValidForCreate":            !c.readOnly,
		"IsValidForForm":              !c.virtual,
		"IsValidForGrid":              !c.virtual,
		"IsValidForRead":              true,
		"IsValidForUpdate":            !c.readOnly && !c.primaryID,
		"IsValidODataAttribute":       !c.virtual,
		"LinkedAttributeId":           nil,
		"LogicalName":                 c.name,
		"MetadataId":                  id,
		"ModifiedOn":                  created,
		"RequiredLevel":               object{{"Value", required}, {"CanBeChanged", !c.primaryID}, {"ManagedPropertyLogicalName", "canmodifyrequirementlevelsettings"}},
		"SchemaName":                  c.schema,
		"Settings":                    []any{},
		"SourceType":                  sourceType,
		"SourceTypeMask":              0,
	}
	raw := func(s string) json.RawMessage { return json.RawMessage(s) }
	switch c.typ {
	case "String":
		format := c.fmt
		if format == "" {
			format = "Text"
		}
		values["DatabaseLength"] = c.maxLength * 2
		values["Format"] = format
		values["FormatName"] = object{{"Value", format}}
		values["FormulaDefinition"] = nil
		values["ImeMode"] = "Auto"
		values["IsLocalizable"] = false
		values["MaxLength"] = c.maxLength
		values["YomiOf"] = nil
	case "Memo":
		values["Format"] = "TextArea"
		values["FormatName"] = object{{"Value", "TextArea"}}
		values["ImeMode"] = "Auto"
		values["IsLocalizable"] = false
		values["MaxLength"] = c.maxLength
	case "Integer":
		format := c.fmt
		if format == "" {
			format = "None"
		}
		values["Format"] = format
		values["FormulaDefinition"] = nil
		values["MaxValue"] = raw(c.max)
		values["MinValue"] = raw(c.min)
	case "BigInt":
		values["MaxValue"] = raw("9223372036854775807")
		values["MinValue"] = raw("-9223372036854775808")
	case "Decimal":
		values["FormulaDefinition"] = nil
		values["ImeMode"] = "Auto"
		values["MaxValue"] = raw(c.max)
		values["MinValue"] = raw(c.min)
		values["Precision"] = c.precision
	case "Money":
		values["CalculationOf"] = nil
		values["FormulaDefinition"] = nil
		values["ImeMode"] = "Auto"
		values["IsBaseCurrency"] = false
		values["MaxValue"] = raw(c.max)
		values["MinValue"] = raw(c.min)
		values["Precision"] = c.precision
		values["PrecisionSource"] = 2
	case "Boolean":
		values["DefaultValue"] = false
		values["FormulaDefinition"] = nil
	case "Picklist", "State", "Status":
		var def any = -1
		if c.typ == "State" {
			def = nil
		}
		values["DefaultFormValue"] = def
		values["FormulaDefinition"] = nil
		values["ParentPicklistLogicalName"] = nil
		values["ChildPicklistLogicalNames"] = []string{}
	case "DateTime":
		format, behavior := "DateAndTime", "UserLocal"
		if c.dateOnlyFormat {
			format = "DateOnly"
		}
		values["CanChangeDateTimeBehavior"] = managed(custom, custom, "canchangedatetimebehavior")
		values["DateTimeBehavior"] = object{{"Value", behavior}}
		values["Format"] = format
		values["FormulaDefinition"] = nil
		values["ImeMode"] = "Inactive"
		values["MaxSupportedValue"] = "9999-12-30T23:59:59Z"
		values["MinSupportedValue"] = "1753-01-01T00:00:00Z"
	case "Lookup", "Owner", "Customer":
		values["Format"] = "None"
		values["Targets"] = c.targets
	}
	return &attrDef{
		logicalName: c.name,
		metadataID:  id,
		odataType:   at.odataType,
		props:       emit(attributeSchema(at.odataType), values),
	}
}

// standardCatalogue is generated once per process: standard definitions are
// the same in every environment. Environments copy the structs and share the
// immutable member values.
var standardCatalogue = sync.OnceValue(func() map[string]*entityDef {
	b := catalogueBuilder{standardNS: standardMetadataNamespace}
	out := map[string]*entityDef{}
	for _, t := range standardTables {
		if _, dup := out[t.name]; dup {
			panic("catalogue: duplicate table " + t.name)
		}
		e := b.entity(t)
		e.published = e.auditState()
		out[t.name] = e
	}
	return out
})

// copyDef copies the structs; the props slices are shared, which is safe
// because definitions are only ever replaced, never edited in place.
func (e *entityDef) copyDef() *entityDef {
	c := *e
	c.attrs = make([]*attrDef, len(e.attrs))
	c.attrByName = make(map[string]*attrDef, len(e.attrs))
	for i, a := range e.attrs {
		ac := *a
		c.attrs[i] = &ac
		c.attrByName[ac.logicalName] = &ac
	}
	return &c
}

// buildCatalogue returns an environment's tables: copies of the standard
// ones (fixed ids) and custom ones with ids from customNS.
func buildCatalogue(customNS uuid.UUID, extraCustomTables int) map[string]*entityDef {
	b := catalogueBuilder{standardNS: standardMetadataNamespace, customNS: customNS}
	out := map[string]*entityDef{}
	for name, e := range standardCatalogue() {
		out[name] = e.copyDef()
	}
	specs := customTables
	if extraCustomTables > 0 {
		specs = append(slices.Clone(customTables), benchTables(extraCustomTables)...)
	}
	for _, t := range specs {
		if _, dup := out[t.name]; dup {
			panic("catalogue: duplicate table " + t.name)
		}
		e := b.entity(t)
		e.published = e.auditState()
		out[t.name] = e
	}
	return out
}

// benchTables generates n extra unmanaged custom tables, new_bench0001 …,
// each with ten auditable columns (Options.ExtraCustomTables), for
// benchmarks that need a catalogue of hundreds of tables.
func benchTables(n int) []tableSpec {
	out := make([]tableSpec, 0, n)
	for i := 1; i <= n; i++ {
		suffix := fmt.Sprintf("%04d", i)
		out = append(out, tableSpec{
			name: "new_bench" + suffix, schema: "new_Bench" + suffix, otc: 20000 + i,
			en: "Bench " + suffix, enPl: "Bench " + suffix + "s", de: "Bench " + suffix, dePl: "Bench " + suffix,
			primaryName: "new_name", flags: fUser | fCustom,
			extras: []colSpec{
				str("new_code", "new_Code", "Code", "Code", 20),
				str("new_reference", "new_Reference", "Reference", "Referenz", 100),
				integer("new_score", "new_Score", "Score", "Punktzahl", "-2147483648", "2147483647"),
				integer("new_count", "new_Count", "Count", "Anzahl", "0", "2147483647"),
				decimal("new_rating", "new_Rating", "Rating", "Bewertung", 2, "-100000000000", "100000000000"),
				money("new_amount", "new_Amount", "Amount", "Betrag", "0.0", "1000000000000.0"),
				boolean("new_active", "new_Active", "Active", "Aktiv"),
				boolean("new_flagged", "new_Flagged", "Flagged", "Markiert"),
				picklist("new_phase", "new_Phase", "Phase", "Phase"),
				dateTime("new_duedate", "new_DueDate", "Due Date", "Fälligkeitsdatum").dateOnly(),
			},
		})
	}
	return out
}
