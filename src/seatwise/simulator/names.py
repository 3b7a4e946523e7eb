"""Word lists the tenant generator draws from: names, titles, departments and countries."""

from __future__ import annotations

FIRST_NAMES = (
    "Aaliyah Aaron Abigail Adam Adrian Aiden Aisha Alan Albert Alejandro Alex Alexander Alice "
    "Alicia Amara Amelia Amir Ana Andrea Andrew Angela Anna Anton Arjun Astrid Ava Axel Beatriz "
    "Ben Benjamin Bianca Björn Brian Camila Carlos Carmen Caroline Catherine Charlotte Chen Chloe "
    "Chris Christian Claire Clara Daniel David Deepa Diana Diego Dmitri Elena Eli Elif Elijah "
    "Elizabeth Ella Emily Emma Emre Eric Erik Ethan Eva Fatima Felix Fernando Finn Florian "
    "Francesca Gabriel Giulia Grace Hana Hannah Hans Harper Hassan Helena Henry Hiroshi Ian Ingrid "
    "Isaac Isabella Ivan Jack Jacob James Jana Jasmine Javier Jean Jessica Jin Joanna Johan John "
    "Jonas Jorge José Joseph Joshua Julia Julian Kai Karen Karim Kate Kenji Kevin Laura Lea Leila "
    "Leo Liam Lina Lucas Lucia Luis Lukas Maya Marco Maria Mark Marta Martin Mateo Matteo Mei "
    "Mia Michael Miguel Mila Mohammed Nadia Naomi Nathan Nia Nikolai Nina Noah Nora Olivia Omar "
    "Oscar Pablo Paul Pedro Peter Priya Rachel Rafael Rahul Raj Rebecca Robert Rosa Ryan Sakura "
    "Samuel Sara Sebastian Sofia Sophie Stefan Sven Tanvi Thomas Tobias Valentina Victor Wei "
    "William Yara Yusuf Zara Zoe"
).split()

LAST_NAMES = (
    "Abbott Adams Ahmed Alvarez Andersen Anderson Bailey Baker Bauer Becker Bergström Bianchi "
    "Brown Campbell Carter Castillo Chen Clark Collins Cooper Costa Cruz Dubois Dupont Edwards "
    "Eriksson Evans Fischer Fernandez Fontaine Garcia Gomez Gonzalez Green Gupta Hall Hansen "
    "Harris Hernandez Hill Hoffmann Huang Ibrahim Ito Jackson Jansen Johansson Johnson Jones Kaur "
    "Khan Kim King Klein Kowalski Kumar Larsen Lee Lewis Li Lindqvist Lopez Martin Martinez Meyer "
    "Miller Mitchell Moore Morales Morgan Müller Murphy Nakamura Nguyen Nielsen Novak O'Brien "
    "Olsen Ortiz Park Patel Perez Peterson Petrov Phillips Ramirez Reyes Richter Rivera Roberts "
    "Robinson Rodriguez Romano Rossi Russo Sánchez Santos Sato Schmidt Schneider Schulz Scott "
    "Sharma Silva Singh Smith Sokolov Suzuki Tanaka Taylor Thomas Thompson Torres Turner Van Dijk "
    "Walker Wang Weber Wilson Wójcik Wright Wu Yamamoto Yilmaz Young Zhang Zimmermann"
).split()

DEPARTMENTS = (
    "Sales",
    "Marketing",
    "Finance",
    "Human Resources",
    "Engineering",
    "IT",
    "Operations",
    "Legal",
    "Customer Service",
    "Research",
    "Logistics",
    "Procurement",
)

TITLES = {
    "Sales": ("Account Executive", "Sales Manager", "Sales Representative", "Key Account Manager"),
    "Marketing": ("Marketing Specialist", "Brand Manager", "Content Strategist"),
    "Finance": ("Accountant", "Financial Analyst", "Controller", "Finance Manager"),
    "Human Resources": ("HR Generalist", "Recruiter", "HR Business Partner"),
    "Engineering": ("Software Engineer", "Senior Engineer", "Engineering Manager", "Architect"),
    "IT": ("Systems Administrator", "Service Desk Analyst", "IT Manager", "Network Engineer"),
    "Operations": ("Operations Manager", "Shift Supervisor", "Store Associate", "Technician"),
    "Legal": ("Counsel", "Paralegal", "Compliance Officer"),
    "Customer Service": ("Support Agent", "Support Team Lead", "Customer Success Manager"),
    "Research": ("Research Scientist", "Data Analyst", "Lab Technician"),
    "Logistics": ("Warehouse Operative", "Driver", "Logistics Coordinator"),
    "Procurement": ("Buyer", "Procurement Manager", "Category Manager"),
}

# (country name as Entra shows it, usageLocation ISO code, weight)
COUNTRIES = (
    ("United States", "US", 30),
    ("United Kingdom", "GB", 12),
    ("Germany", "DE", 10),
    ("France", "FR", 7),
    ("Netherlands", "NL", 5),
    ("India", "IN", 8),
    ("Canada", "CA", 5),
    ("Australia", "AU", 4),
    ("Spain", "ES", 4),
    ("Sweden", "SE", 3),
    ("Japan", "JP", 3),
    ("Brazil", "BR", 3),
    ("Poland", "PL", 3),
    ("Italy", "IT", 3),
)

GUEST_DOMAINS = ("fabrikam.com", "northwindtraders.com", "adatum.com", "litware.com", "gmail.com")

SERVICE_ACCOUNTS = (
    ("svc-backup", "Backup Service", "service"),
    ("svc-scanner", "Scan to Mail", "service"),
    ("svc-sync", "Directory Sync Service", "service"),
    ("info", "Info Mailbox", "shared"),
    ("support", "Support Mailbox", "shared"),
    ("invoices", "Invoices", "shared"),
    ("hr-inbox", "HR Inbox", "shared"),
    ("room-boardroom", "Boardroom", "room"),
    ("room-atlas", "Meeting Room Atlas", "room"),
    ("room-orion", "Meeting Room Orion", "room"),
)
