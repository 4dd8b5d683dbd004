//! People search: ranked by how they match (exact handle, handle prefix, name prefix, then
//! within the typos the query tolerates; ties by followers). Only those the searcher may see;
//! suspended accounts never.

use std::sync::Arc;

use picshare_domain::User;
use picshare_domain::search::{
    MAX_QUERY_TERMS, WORD_PREFIX_MIN_CHARS, beginnings_within_typos, fold_words, handle_query,
    matches_with_typos, typo_allowance,
};
use picshare_store::{
    AlikeWords, FoundUser, RankedKey, RankedPage, RankedRequest, Searcher, UserMatch, UserQuery,
};

use crate::auth::Principal;
use crate::name_dictionary::{Dictionary, Words};
use crate::search::{checked_query, searcher};
use crate::{App, AppResult};

const USER_MATCHES: [UserMatch; 4] = [
    UserMatch::ExactHandle,
    UserMatch::HandlePrefix,
    UserMatch::NamePrefix,
    UserMatch::Typo,
];

/// Beginnings within a query word's typos looked for in handles, and in names, at most.
const ALIKE_WORDS: usize = 32;
/// Matches (handles sharing a prefix, names holding a word, as the dictionary counts them) past
/// which the store walks the accounts most followed first, checking each, instead of reading
/// every match and sorting them: about 1 in 100 accounts.
const CROWDED: u64 = 1000;
/// Fewer letters than this beyond its typos, and a query word narrows too little to look for.
const NARROWING_LETTERS: usize = 3;
/// People found by the words of a query of several words are judged against the whole query;
/// this many rounds at most fill a page.
const TYPO_ROUNDS: usize = 4;

fn user_key(how: UserMatch, user: &User) -> RankedKey {
    RankedKey {
        rank: how as u8,
        score: user.followers_count as f64,
        id: user.id.0,
    }
}

/// The way a person matched, from their handle, for people found by handle.
fn handle_match(query_handle: &str, user: &User) -> UserMatch {
    match user.handle.as_str().eq_ignore_ascii_case(query_handle) {
        true => UserMatch::ExactHandle,
        false => UserMatch::HandlePrefix,
    }
}

/// About how many handles start with the query's handle (the dictionary's words that do).
fn handle_sharers(held: &Words, handle: Option<&str>) -> u64 {
    handle.map_or(0, |handle| held.count_starting_with(handle))
}

/// At most about how many names the name step finds (as many as hold its rarest word), where
/// the store may walk them (`WORD_PREFIX_MIN_CHARS` or more); 0 otherwise.
fn name_step_estimate(held: &Words, name: &str) -> u64 {
    if name.trim_start().chars().count() < WORD_PREFIX_MIN_CHARS {
        return 0;
    }
    let mut words = name.split_whitespace().rev();
    let Some(last) = words.next() else {
        return 0;
    };
    words
        .map(|word| held.names_with(word))
        .fold(held.names_starting_with(last), u64::min)
}

/// Whether some name may start with the query's words (`search::name_has_prefix`): every
/// word but the last is a whole word of it, and the last begins one.
fn name_may_match(dictionary: &Dictionary, name: &str) -> bool {
    let mut words = name.split_whitespace().rev();
    words
        .next()
        .is_some_and(|last| dictionary.may_start_with(last))
        && words.all(|word| dictionary.may_contain(word))
}

/// The dictionary of a query long enough for typos: the held words at once, and every word
/// (those added since the held ones were read: one more statement) only when the held ones
/// cannot decide: a step they rule out, or the typos.
struct TypoDictionary {
    held: Arc<Words>,
    allowed: usize,
    every: Option<Dictionary>,
}

impl App {
    pub async fn search_users(
        &self,
        viewer: Option<Principal>,
        query: &str,
        page: RankedRequest,
    ) -> AppResult<RankedPage<User>> {
        let query = checked_query(query)?;
        let handle = handle_query(query);
        let name = fold_words(query);
        // No letter or digit: nothing can match.
        if handle.is_none() && name.is_empty() {
            return Ok(RankedPage::from_keyed(Vec::new(), page.limit));
        }
        let held = self.name_dictionary.held_words(&self.store).await?;
        let sharing_handle = handle_sharers(&held, handle.as_deref());
        let crowded_names = name_step_estimate(&held, &name).saturating_sub(sharing_handle);
        let query = UserQuery {
            handle,
            name,
            alike: AlikeWords::default(),
            crowded_handle_prefix: sharing_handle >= CROWDED,
            crowded_names: crowded_names >= CROWDED,
        };
        let searcher = searcher(viewer);
        let allowed = typo_allowance(query.name.trim_start().chars().count());
        if allowed == 0 {
            return self.ranked_users(searcher, &query, None, page).await;
        }
        let mut words = TypoDictionary {
            held,
            allowed,
            every: None,
        };
        self.ranked_users(searcher, &query, Some(&mut words), page)
            .await
    }

    /// Every dictionary word: read when first needed.
    async fn every_word<'a>(&self, words: &'a mut TypoDictionary) -> AppResult<&'a Dictionary> {
        let every = match words.every.take() {
            Some(every) => every,
            None => {
                let held = words.held.clone();
                self.name_dictionary.with_added(&self.store, held).await?
            }
        };
        Ok(words.every.insert(every))
    }

    /// Whether `how` may find anyone: a query long enough for typos asks the dictionary (the
    /// held words first; those added since only to confirm a step the held ones rule out).
    async fn may_match(
        &self,
        how: UserMatch,
        query: &UserQuery,
        words: Option<&mut TypoDictionary>,
    ) -> AppResult<bool> {
        let handle_step = matches!(how, UserMatch::ExactHandle | UserMatch::HandlePrefix);
        if handle_step && query.handle.is_none() {
            return Ok(false);
        }
        let ruled_out = |dictionary: &Dictionary| match (how, query.handle.as_deref()) {
            (UserMatch::ExactHandle | UserMatch::HandlePrefix, Some(handle)) => {
                !dictionary.may_start_with(handle)
            }
            (UserMatch::NamePrefix, _) => !name_may_match(dictionary, &query.name),
            _ => false,
        };
        let Some(words) = words else {
            return Ok(true);
        };
        if !ruled_out(&Dictionary::held_only(words.held.clone())) {
            return Ok(true);
        }
        Ok(!ruled_out(self.every_word(words).await?))
    }

    /// The page of people, each way of matching in turn; `words` for a query long enough for
    /// typos, whose dictionary also rules out ways that cannot match.
    async fn ranked_users(
        &self,
        searcher: Searcher,
        query: &UserQuery,
        mut words: Option<&mut TypoDictionary>,
        page: RankedRequest,
    ) -> AppResult<RankedPage<User>> {
        let wanted = page.limit as usize + 1;
        let mut found: Vec<(RankedKey, User)> = Vec::with_capacity(wanted);
        for how in USER_MATCHES {
            let rank = how as u8;
            // A first page finds the handle's prefixes with the handle; a later one resumes them.
            let for_other_pages = match how {
                UserMatch::ExactHandle => page.after.is_some(),
                UserMatch::HandlePrefix => page.after.is_none(),
                _ => false,
            };
            if for_other_pages
                || page.after.is_some_and(|after| after.rank > rank)
                || !self.may_match(how, query, words.as_deref_mut()).await?
            {
                continue;
            }
            let after = page.after.filter(|after| after.rank == rank);
            let room = wanted - found.len();
            let mut users: Vec<(RankedKey, User)> = match how {
                UserMatch::Typo => {
                    let Some(words) = words.as_deref_mut() else {
                        break;
                    };
                    let allowed = words.allowed;
                    let dictionary = self.every_word(words).await?;
                    let users = self
                        .typo_matches(searcher, query, dictionary, allowed, after, room)
                        .await?;
                    users
                        .into_iter()
                        .map(|user| (user_key(how, &user), user))
                        .collect()
                }
                _ => {
                    let after = after.map(|after| (after.score as i64, after.id));
                    let users = self
                        .store
                        .search_users(searcher, query, how, after, room as u32)
                        .await?;
                    let handle = query.handle.as_deref().unwrap_or_default();
                    users
                        .into_iter()
                        .map(|found| {
                            let how = match how {
                                UserMatch::ExactHandle => handle_match(handle, &found.user),
                                how => how,
                            };
                            (user_key(how, &found.user), found.user)
                        })
                        .collect()
                }
            };
            users.sort_by(|(a, _), (b, _)| {
                (a.rank, b.score as i64, b.id).cmp(&(b.rank, a.score as i64, a.id))
            });
            found.extend(users);
            if found.len() >= wanted {
                break;
            }
        }
        found.truncate(wanted);
        Ok(RankedPage::from_keyed(found, page.limit))
    }

    /// What a query's typos allow (`AlikeWords`), from the dictionary's words.
    fn alike(dictionary: &Dictionary, query: &UserQuery, allowed: usize) -> AlikeWords {
        let beginnings = |text: &str| {
            let held = &dictionary.held.sorted;
            let mut found = beginnings_within_typos(held, text, allowed, ALIKE_WORDS);
            for beginning in beginnings_within_typos(&dictionary.recent, text, allowed, ALIKE_WORDS)
            {
                if !found.contains(&beginning) {
                    found.push(beginning);
                }
            }
            found.truncate(ALIKE_WORDS);
            found
        };
        let mut alike = AlikeWords::default();
        if let Some(handle) = query.handle.as_deref() {
            alike.handles = beginnings(handle);
        }
        let narrowing = query
            .name
            .split(' ')
            .filter(|word| word.chars().count() >= allowed + NARROWING_LETTERS)
            .take(MAX_QUERY_TERMS);
        for word in narrowing {
            let found = match query.handle.as_deref() == Some(word) {
                true => alike.handles.clone(),
                false => beginnings(word),
            };
            // Name words are letters and digits; handles may hold `_` and `.` too.
            let found: Vec<String> = found
                .into_iter()
                .filter(|beginning| beginning.chars().all(char::is_alphanumeric))
                .collect();
            if found.is_empty() {
                // No name has every word.
                alike.name_words.clear();
                break;
            }
            alike.name_words.push(found);
        }
        alike
    }

    /// People within the query's typos who matched no better way, most followed first.
    async fn typo_matches(
        &self,
        searcher: Searcher,
        query: &UserQuery,
        dictionary: &Dictionary,
        allowed: usize,
        after: Option<RankedKey>,
        room: usize,
    ) -> AppResult<Vec<User>> {
        let words = query.name.trim_start();
        let alike = Self::alike(dictionary, query, allowed);
        // The names of every query word's beginnings, less those an earlier step found.
        let held = &dictionary.held;
        let alike_names = alike
            .name_words
            .iter()
            .map(|beginnings| {
                let names = beginnings.iter().map(|b| held.names_starting_with(b));
                names.sum::<u64>()
            })
            .min()
            .unwrap_or(0);
        let found_before =
            name_step_estimate(held, &query.name) + handle_sharers(held, query.handle.as_deref());
        let handle = query.handle.as_deref();
        // What an earlier step may have found is left out; what none can have, not looked at.
        let store_query = UserQuery {
            alike,
            crowded_names: alike_names.saturating_sub(found_before) >= CROWDED,
            handle: query
                .handle
                .clone()
                .filter(|handle| dictionary.may_start_with(handle)),
            name: match name_may_match(dictionary, &query.name) {
                true => query.name.clone(),
                false => String::new(),
            },
            crowded_handle_prefix: query.crowded_handle_prefix,
        };
        // Each word within the typos does not make the whole query so: judged whole here.
        let within_typos = |found: &FoundUser| {
            let own = found.user.handle.to_ascii_lowercase();
            matches_with_typos(handle.unwrap_or(words), &own, "")
                || matches_with_typos(words, "", &found.search_name)
        };
        let mut users: Vec<User> = Vec::with_capacity(room);
        let mut after = after.map(|after| (after.score as i64, after.id));
        for _ in 0..TYPO_ROUNDS {
            let found = self
                .store
                .search_users(searcher, &store_query, UserMatch::Typo, after, room as u32)
                .await?;
            let more = found.len() == room;
            for found in found {
                after = Some((found.user.followers_count, found.user.id.0));
                if within_typos(&found) {
                    users.push(found.user);
                }
            }
            if users.len() >= room || !more {
                break;
            }
        }
        users.truncate(room);
        Ok(users)
    }
}
