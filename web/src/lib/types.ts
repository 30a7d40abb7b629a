// The API's answers as the pages read them (camelCase, see /work API.md); extra fields are ignored.
export interface ComputedTag { tag: string; reason: string }
export interface Touchpoint { touchpointId: string; type: string; channelId: string; at: string; contactId?: string | null; leadId?: string | null; accountId?: string | null }
export interface Behaviour { days: number; countsByType: Record<string, number> }

export interface ContactInfo {
  contactId: string; name?: string | null; mobilePhone?: string | null; email?: string | null; title?: string | null; city?: string | null;
  phone?: string | null; weChatId?: string | null; weComExternalUserId?: string | null; primaryAccountId?: string | null; createdAt: string; updatedAt: string;
}
export interface Contact360 {
  contact: ContactInfo;
  summary?: { totalTouchpoints: number; emailOpens: number; formSubmissions: number; engagementScore: number; lastActivityAt?: string | null } | null;
  accounts: { accountId: string; name: string; city?: string | null; role?: string | null; isPrimaryContact: boolean; isPrimaryAccount: boolean }[];
  channelIdentities: { channelId: string; identityType: string; channelUserId: string; isVerified: boolean; lastSeenAt: string }[];
  tags: string[];
  computedTags: ComputedTag[];
  followUps: { followUpId: string; content: string; channel?: string | null; occurredAt: string }[];
  leads: { leadId: string; name?: string | null; channelId?: string | null; convertedAt?: string | null }[];
  behaviour?: Behaviour | null;
  touchpoints: Touchpoint[];
  partial: boolean;
  cached?: boolean;
}
export interface Opportunity { opportunityId: string; name: string; contactId?: string | null; amount: number; stage: string; isClosed: boolean; isWon: boolean; closedAt?: string | null; createdAt: string }
export interface Account360 {
  account: { accountId: string; name: string; creditCode?: string | null; creditCodeVerified?: boolean | null; city?: string | null; type?: string | null; status: string; createdAt: string; updatedAt: string };
  summary?: { totalContacts: number; totalOpportunities: number; wonOpportunities: number; lostOpportunities: number; totalRevenue: number; winRate?: number | null; healthScore: number; lastActivityAt?: string | null } | null;
  contacts: { contactId: string; name?: string | null; title?: string | null; mobilePhone?: string | null; email?: string | null; role?: string | null; isPrimaryContact: boolean; engagementScore?: number | null }[];
  opportunities: Opportunity[];
  channelIdentities: { channelId: string; channelAccountId: string; isVerified: boolean; lastSeenAt: string }[];
  computedTags: ComputedTag[];
  behaviour?: Behaviour | null;
  touchpoints: Touchpoint[];
  partial: boolean;
}
export interface LeadDetails {
  leadId: string; leadName?: string | null; companyName?: string | null; mobilePhone?: string | null; email?: string | null; title?: string | null; city?: string | null;
  channelId?: string | null; campaignId?: string | null; leadSource?: string | null; leadStatus: string; createdAt: string; updatedAt: string;
  convertedAt?: string | null; convertedContactId?: string | null; convertedAccountId?: string | null; convertedOpportunityId?: string | null;
  score?: number | null; grade?: string | null; scoreReasons: { factor: string; points: number; detail: string }[];
  tags: string[]; computedTags: ComputedTag[]; behaviour?: Behaviour | null; partial: boolean;
}
export interface SearchMatch { type: 'account' | 'contact' | 'lead'; id: string; name?: string | null; score: number; matchedOn: string; companyName?: string | null; city?: string | null; maskedPhone?: string | null }
export interface SyncTask {
  id: string; target: string; entityType: string; entityId: string; status: string; attempts: number; lastError?: string | null; note?: string | null;
  createdAt: string; updatedAt: string; nextAttemptAt?: string | null; completedAt?: string | null; createdBy?: string | null;
}
export interface Candidate { accountId: string; name: string; city?: string | null; creditCode?: string | null; similarity: number }
export interface ReviewItem {
  reviewId: string; ingestionId: string; entityType: string;
  record: { record: Record<string, unknown>; companyFullName?: string | null; companyShortName?: string | null };
  candidates: Candidate[]; status: string; createdAt: string; decision?: string | null; targetId?: string | null; resolvedEntityId?: string | null;
}
export interface Ingestion { ingestionId: string; channel: string; status: string; receivedAt: string; processedAt?: string | null; entityType?: string | null; entityId?: string | null; reviewId?: string | null; errors: { field?: string; message?: string }[] }
export interface Orchestration { name: string; instanceId: string; runtimeStatus: string; input?: unknown; customStatus?: unknown; output?: unknown; createdTime: string; lastUpdatedTime: string }
