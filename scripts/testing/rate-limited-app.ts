/** The budgets the issue asks for, spelled out so a test harness default cannot change them. */
export const ISSUE_RATE_LIMITS =
  "api=60/min,1000/hour;auth=10/min,100/hour;pages=300/min,5000/hour";
