package seed

// Word lists the generators draw from. They are plain data: the choices made from them live in
// profile.go, demo.go and bulk.go.

// companyWords lead a company name ("Northwind" in "Northwind Logistics").
var companyWords = []string{
	"Alder", "Arcadia", "Atlas", "Beacon", "Birchwood", "Bluepeak", "Borealis", "Bramble",
	"Brightwater", "Cascade", "Cobalt", "Copperleaf", "Crescent", "Driftwood", "Dunmore", "Ember",
	"Evergreen", "Fathom", "Foxglove", "Glacier", "Goldcrest", "Granite", "Halcyon", "Harborview",
	"Helix", "Highland", "Indigo", "Ironbark", "Jasper", "Juniper", "Kestrel", "Keystone",
	"Kinetic", "Larkspur", "Lattice", "Lodestar", "Lumen", "Maplewood", "Marigold", "Meridian",
	"Mosaic", "Nimbus", "Northstar", "Northwind", "Oakridge", "Obsidian", "Onyx", "Orchard",
	"Pinecrest", "Pioneer", "Polaris", "Prism", "Quarry", "Quartz", "Radiant", "Redwood",
	"Riverstone", "Saffron", "Sable", "Silverline", "Solstice", "Summit", "Tandem", "Thistle",
	"Tidewater", "Trillium", "Upland", "Vantage", "Verity", "Vertex", "Westbrook", "Willow",
	"Wren", "Yarrow", "Zephyr", "Bellweather", "Clearwater", "Fairhaven", "Greystone", "Stonebridge",
}

// companyMiddles sit between the lead word and the industry in bulk data, so that a million
// generated companies do not all share a few thousand names.
var companyMiddles = []string{
	"Bay", "Bridge", "Canyon", "Coast", "Creek", "Crown", "Field", "Forge", "Gate", "Grove",
	"Harbor", "Hill", "Lake", "Ledger", "Line", "Mill", "Park", "Peak", "Point", "Ridge",
	"River", "Rock", "Shore", "Sky", "Spring", "Star", "Stone", "Trail", "Vale", "Wave",
}

// industry is the tail of a company name with the industry it implies.
type industry struct {
	word     string // "Logistics"
	industry string // custom attribute value, "logistics"
}

var industries = []industry{
	{"Analytics", "software"}, {"Apparel", "retail"}, {"Bio", "life-sciences"},
	{"Capital", "financial-services"}, {"Dental", "healthcare"}, {"Energy", "energy"},
	{"Foods", "food-and-beverage"}, {"Freight", "logistics"}, {"Health", "healthcare"},
	{"Hospitality", "hospitality"}, {"Insurance", "insurance"}, {"Labs", "software"},
	{"Learning", "education"}, {"Logistics", "logistics"}, {"Manufacturing", "manufacturing"},
	{"Media", "media"}, {"Motors", "automotive"}, {"Networks", "telecommunications"},
	{"Outdoor", "retail"}, {"Payments", "financial-services"}, {"Pharma", "life-sciences"},
	{"Realty", "real-estate"}, {"Robotics", "manufacturing"}, {"Security", "software"},
	{"Software", "software"}, {"Systems", "software"}, {"Travel", "travel"},
	{"Works", "construction"}, {"Clinics", "healthcare"}, {"Markets", "retail"},
}

// Regions a customer is served from; they pick currencies, legal suffixes and domains.
const (
	regionNA   = "NA"
	regionEMEA = "EMEA"
	regionAPAC = "APAC"
)

// legalSuffixes by region; the empty string (no suffix) is the most common choice.
var legalSuffixes = map[string][]string{
	regionNA:   {"", "", "", "Inc.", "LLC", "Corp."},
	regionEMEA: {"", "", "GmbH", "Ltd", "B.V.", "AG", "S.A.S.", "AB"},
	regionAPAC: {"", "", "Pty Ltd", "Pte. Ltd.", "K.K.", "Ltd"},
}

// topLevelDomains by region.
var topLevelDomains = map[string][]string{
	regionNA:   {".com", ".com", ".com", ".io", ".co", ".us"},
	regionEMEA: {".com", ".de", ".co.uk", ".nl", ".fr", ".se", ".io", ".eu"},
	regionAPAC: {".com", ".com.au", ".sg", ".jp", ".co.nz", ".io"},
}

var firstNames = []string{
	"Aaliyah", "Adebayo", "Aiko", "Alejandro", "Amara", "Amelia", "Anders", "Ananya", "Ben",
	"Bianca", "Camila", "Carlos", "Charlotte", "Chen", "Chloe", "Daniel", "Daria", "David",
	"Diego", "Elif", "Elena", "Emeka", "Emma", "Farah", "Felix", "Fatima", "Gabriel", "Grace",
	"Hannah", "Haruto", "Hugo", "Ibrahim", "Ines", "Isabel", "Ivan", "Jack", "Jamal", "Jana",
	"Javier", "Jin", "Jonas", "Julia", "Kai", "Kavya", "Kenji", "Khalid", "Lars", "Laura",
	"Leila", "Liam", "Lina", "Lucas", "Luca", "Maya", "Mateo", "Mei", "Mia", "Mohammed",
	"Nadia", "Naomi", "Nikhil", "Noah", "Nora", "Oliver", "Olga", "Omar", "Paula", "Pedro",
	"Priya", "Rafael", "Rania", "Ravi", "Rosa", "Ryan", "Saanvi", "Samuel", "Sara", "Sean",
	"Sofia", "Sophie", "Tariq", "Theo", "Tomas", "Valentina", "Victor", "Wei", "Yara", "Yusuf",
	"Zara", "Zoe", "Andrea", "Chidi", "Freya", "Mikael", "Rachel", "Sven", "Thandiwe", "Wanjiru",
}

var lastNames = []string{
	"Abara", "Achterberg", "Adeyemi", "Alvarez", "Andersson", "Bauer", "Becker", "Bianchi",
	"Brennan", "Campbell", "Castillo", "Chandra", "Chowdhury", "Costa", "Dubois", "Eriksen",
	"Fernandes", "Fischer", "Fitzgerald", "Garcia", "Goldberg", "Gupta", "Haddad", "Hansen",
	"Hartmann", "Hayes", "Horvath", "Ibrahim", "Ivanova", "Jansen", "Jensen", "Kaur", "Kim",
	"Kowalski", "Kumar", "Laurent", "Lee", "Lindqvist", "Lopez", "Martin", "Meyer", "Moreau",
	"Mueller", "Murphy", "Nakamura", "Ng", "Nguyen", "Novak", "Nowak", "O'Connor", "Okafor",
	"Olsen", "Ortiz", "Patel", "Pereira", "Petrov", "Popescu", "Quinn", "Ramirez", "Reddy",
	"Richter", "Rossi", "Russo", "Sato", "Schmidt", "Schneider", "Shah", "Silva", "Singh",
	"Sokolova", "Suzuki", "Tanaka", "Thompson", "Torres", "Van Dijk", "Varga", "Wagner",
	"Walsh", "Wang", "Weber", "Williams", "Wong", "Yamamoto", "Yilmaz", "Zhang", "Ziegler",
	"Mensah", "Osei", "Kariuki", "Banerjee", "Das", "Moretti", "Lindgren", "Duarte", "Vega",
}

// Personas of a contact, in the order an account's contacts are given them: the first contact is
// the person who signs, the second the one who champions the product, and so on.
const (
	personaDecisionMaker = "decision-maker"
	personaChampion      = "champion"
	personaAdmin         = "admin"
	personaEndUser       = "end-user"
)

// titles by persona.
var titles = map[string][]string{
	personaDecisionMaker: {
		"VP of Operations", "Chief Customer Officer", "Head of Revenue Operations", "CTO",
		"VP of Finance", "Director of Customer Experience", "COO", "VP of Engineering",
		"Head of Data", "Managing Director",
	},
	personaChampion: {
		"Operations Manager", "Analytics Lead", "Customer Success Lead", "Product Operations Manager",
		"Senior Data Analyst", "Support Team Lead", "Program Manager", "RevOps Manager",
	},
	personaAdmin: {
		"IT Administrator", "Systems Administrator", "CRM Administrator", "Platform Engineer",
		"IT Operations Specialist", "Business Systems Analyst",
	},
	personaEndUser: {
		"Analyst", "Account Executive", "Support Specialist", "Operations Associate",
		"Marketing Coordinator", "Finance Associate", "Project Coordinator", "Sales Engineer",
		"Customer Support Agent", "Data Engineer",
	},
}

// Usage event names the product emits.
const (
	eventLogin                = "login"
	eventReportViewed         = "report_viewed"
	eventDashboardCreated     = "dashboard_created"
	eventExportRun            = "export_run"
	eventIntegrationConnected = "integration_connected"
	eventUserInvited          = "user_invited"
	eventWorkflowRun          = "workflow_run"
	eventSyncCompleted        = "sync_completed"
)

var reportNames = []string{
	"Weekly active users", "Pipeline by stage", "Ticket backlog", "Revenue by region",
	"Churn cohort", "Feature adoption", "SLA breaches", "Inventory turnover",
}

var integrationNames = []string{"salesforce", "hubspot", "slack", "snowflake", "zendesk", "jira"}

var workflowNames = []string{"nightly-digest", "renewal-reminder", "lead-routing", "invoice-sync"}

var exportFormats = []string{"csv", "csv", "xlsx", "pdf"}

// Timeline texts. %s placeholders are filled with a contact's name, a report or an integration.
var (
	noteBodies = []string{
		"%s asked whether reports can be scheduled to land in their inbox on Mondays.",
		"%s mentioned a reorganisation in their team; need to confirm who owns the tool now.",
		"Usage dipped after their holiday season, %s expects it back up by month end.",
		"%s is keen on the new dashboards and wants to present them internally.",
		"Procurement changed at their side; %s will introduce the new contact.",
		"%s flagged that exports time out on very large date ranges.",
	}
	callBodies = []string{
		"Check-in call with %s: walked through the adoption report, no blockers raised.",
		"Call with %s about seat count ahead of the renewal conversation.",
		"Troubleshooting call with %s on SSO configuration; resolved during the call.",
		"Call with %s to plan the rollout to their second region.",
	}
	meetingBodies = []string{
		"Kickoff meeting with %s: agreed success criteria and a go-live date.",
		"Training session for %s's team on dashboards and alerts.",
		"Working session with %s to map their current process onto workflows.",
		"Roadmap preview with %s; they voted for better API limits.",
	}
	emailBodies = []string{
		"Sent %s the recording and slides from last week's training.",
		"Emailed %s a summary of open support tickets and their status.",
		"Shared best-practice guide for alerts with %s.",
		"Followed up with %s on the unanswered renewal questionnaire.",
	}
	reviewBodies = []string{
		"Quarterly business review with %s: reviewed goals, adoption and next quarter's plan.",
		"Executive review with %s: value delivered so far and expansion options.",
		"Business review with %s: usage trends, open risks and renewal timeline.",
	}
)
