import { Layout } from "./layout";

/** The sign-in form: the token goes in the request body, never in a URL. */
export function SignInPage(props: { error?: string }) {
  return (
    <Layout title="Sign in">
      <form method="post" action="/console/sign-in" class="signin">
        <label>
          Admin token
          <input type="password" name="token" autocomplete="current-password" required />
        </label>
        {props.error && (
          <p role="alert" class="error">
            {props.error}
          </p>
        )}
        <button type="submit">Sign in</button>
      </form>
    </Layout>
  );
}
